import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

export interface MenuItem {
  label: string;
  testId: string;
  onSelect: () => void;
  danger?: boolean;
}

/**
 * A button that opens a menu: arrow keys move, Escape closes and returns focus to the button,
 * a click outside closes.
 */
export function MenuButton(props: {
  label: string;
  /** Whose menu this is (a person's name), shown at its top. */
  title?: string;
  testId: string;
  items: MenuItem[];
  children: ComponentChildren;
}) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    menu.current?.querySelector<HTMLElement>("[role=menuitem]")?.focus();
    const outside = (event: PointerEvent) => {
      const target = event.target as Node;
      if (!menu.current?.contains(target) && !button.current?.contains(target)) setOpen(false);
    };
    document.addEventListener("pointerdown", outside);
    return () => document.removeEventListener("pointerdown", outside);
  }, [open]);

  function close() {
    setOpen(false);
    button.current?.focus();
  }

  function onKeyDown(event: KeyboardEvent) {
    const items = [...(menu.current?.querySelectorAll<HTMLElement>("[role=menuitem]") ?? [])];
    const index = items.indexOf(document.activeElement as HTMLElement);
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      items[(index + step + items.length) % items.length]?.focus();
    } else if (event.key === "Home") {
      event.preventDefault();
      items[0]?.focus();
    } else if (event.key === "End") {
      event.preventDefault();
      items[items.length - 1]?.focus();
    } else if (event.key === "Tab") {
      setOpen(false);
    }
  }

  return (
    <span class="menu-wrap">
      <button
        ref={button}
        type="button"
        class="icon-button"
        data-testid={props.testId}
        aria-label={props.label}
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        {props.children}
      </button>
      {open && <div class="menu-backdrop" data-testid="menu-backdrop" aria-hidden="true" onClick={() => setOpen(false)} />}
      {open && (
        <div class="menu" role="menu" ref={menu} onKeyDown={onKeyDown} aria-label={props.title ?? props.label}>
          {props.title && (
            <p class="menu-title" data-testid="menu-title" aria-hidden="true">
              {props.title}
            </p>
          )}
          {props.items.map((item) => (
            <button
              type="button"
              role="menuitem"
              key={item.testId}
              data-testid={item.testId}
              class={item.danger ? "danger" : undefined}
              onClick={() => {
                close();
                item.onSelect();
              }}
            >
              {item.label}
            </button>
          ))}
        </div>
      )}
    </span>
  );
}
