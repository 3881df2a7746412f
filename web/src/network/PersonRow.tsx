import type { ComponentChildren } from "preact";
import { t } from "../i18n";
import { Avatar } from "../ui/Avatar";

/** One person in a list: picture, name and headline linking to their page, then actions. */
export function PersonRow(props: {
  id: string;
  name: string;
  headline?: string;
  avatarUrl?: string | null;
  testId: string;
  detail?: ComponentChildren;
  children?: ComponentChildren;
}) {
  const name = props.name || t("common.unnamed");
  return (
    <li class="card person-row" data-testid={props.testId} data-user-id={props.id}>
      <a class="person-link" href={`#/people/${props.id}`}>
        <Avatar name={name} url={props.avatarUrl} size="small" />
        <span class="person-text">
          <span class="person-name">{name}</span>
          {props.headline && <span class="person-headline">{props.headline}</span>}
          {props.detail}
        </span>
      </a>
      {props.children && <div class="actions">{props.children}</div>}
    </li>
  );
}
