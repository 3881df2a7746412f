// Small inline icons (decorative: every button that shows one has a text label or aria-label).
const common = { width: 24, height: 24, viewBox: "0 0 24 24", "aria-hidden": true, focusable: "false" } as const;

export function MicIcon(props: { off?: boolean }) {
  return (
    <svg {...common} fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round">
      <rect x="9" y="3" width="6" height="11" rx="3" />
      <path d="M5 11a7 7 0 0 0 14 0M12 18v3" />
      {props.off && <path d="M4 4l16 16" />}
    </svg>
  );
}

export function HandIcon() {
  return (
    <svg {...common} fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
      <path d="M8 13V5a1.5 1.5 0 0 1 3 0v6M11 11V4a1.5 1.5 0 0 1 3 0v7M14 11V5.5a1.5 1.5 0 0 1 3 0V14a7 7 0 0 1-7 7h-.5a6 6 0 0 1-4.6-2.2L3.5 17a1.5 1.5 0 0 1 2.3-2L8 17" />
    </svg>
  );
}

export function MoreIcon() {
  return (
    <svg {...common} fill="currentColor">
      <circle cx="5" cy="12" r="2" />
      <circle cx="12" cy="12" r="2" />
      <circle cx="19" cy="12" r="2" />
    </svg>
  );
}

export function LeaveIcon() {
  return (
    <svg {...common} fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
      <path d="M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3M10 17l-5-5 5-5M5 12h11" />
    </svg>
  );
}
