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

const line = { fill: "none", stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round" } as const;

export function RoomsIcon() {
  return (
    <svg {...common} {...line}>
      <path d="M4 11a8 8 0 0 1 16 0v5a2 2 0 0 1-2 2h-1v-6h3M4 12h3v6H6a2 2 0 0 1-2-2z" />
    </svg>
  );
}

export function SearchIcon() {
  return (
    <svg {...common} {...line}>
      <circle cx="11" cy="11" r="6.5" />
      <path d="M16 16l4.5 4.5" />
    </svg>
  );
}

export function PeopleIcon() {
  return (
    <svg {...common} {...line}>
      <circle cx="9" cy="8" r="3.5" />
      <path d="M2.5 20a6.5 6.5 0 0 1 13 0M16 4.7a3.5 3.5 0 0 1 0 6.6M18 14a6.5 6.5 0 0 1 3.5 6" />
    </svg>
  );
}

export function InviteIcon() {
  return (
    <svg {...common} {...line}>
      <circle cx="9" cy="8" r="3.5" />
      <path d="M2.5 20a6.5 6.5 0 0 1 13 0M19 8v6M16 11h6" />
    </svg>
  );
}

export function PersonIcon() {
  return (
    <svg {...common} {...line}>
      <circle cx="12" cy="8" r="4" />
      <path d="M4.5 21a7.5 7.5 0 0 1 15 0" />
    </svg>
  );
}

export function SettingsIcon() {
  return (
    <svg {...common} {...line}>
      <circle cx="12" cy="12" r="3" />
      <path d="M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1" />
    </svg>
  );
}

export function ShareIcon() {
  return (
    <svg {...common} {...line}>
      <path d="M12 3v12M7.5 7.5L12 3l4.5 4.5M5 13v6a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2v-6" />
    </svg>
  );
}
