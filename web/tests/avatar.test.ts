// The initials an avatar shows when a person has no photo.
import { describe, expect, it } from "vitest";
import { initials } from "../src/ui/Avatar";

describe("initials", () => {
  it("takes the first letters of the first and last word of a Latin name", () => {
    expect(initials("Maximilian Mustermann-Schneider")).toBe("MM");
    expect(initials("  chen   jie ")).toBe("CJ");
    expect(initials("Ada")).toBe("A");
  });

  it("takes one character of a name that starts in Chinese, Japanese or Korean script", () => {
    expect(initials("張偉 Zhang Wei")).toBe("張");
    expect(initials("王秀英")).toBe("王");
    expect(initials("さくら Sakura")).toBe("さ");
    expect(initials("김민준 Kim")).toBe("김");
  });

  it("shows a question mark for an empty name and keeps a leading emoji whole", () => {
    expect(initials("   ")).toBe("?");
    expect(initials("🎧 Audio Lab")).toBe("🎧L");
  });
});
