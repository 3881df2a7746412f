// Client logic of the network screens: which fields a validation error names, skill tags.
import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api/client";
import { invalidFields } from "../src/api/fields";
import { addSkills } from "../src/profile/Profile";

describe("fields named by a 422", () => {
  it("reads the server's `field.index: reason` parts, once each", () => {
    const error = new ApiError(
      422,
      "invalid_request",
      "The request is not valid. links.0: URL scheme should be 'http' or 'https'; skills.2: Value error, a skill may only have letters; links.1: Input should be a valid URL",
    );
    expect(invalidFields(error)).toEqual(["links", "skills"]);
  });

  it("finds a plain field and ignores colons inside the reasons", () => {
    const error = new ApiError(422, "invalid_request", "The request is not valid. industry: Value error, unknown industry: pick an id");
    expect(invalidFields(error)).toEqual(["industry"]);
  });

  it("names nothing for other errors", () => {
    expect(invalidFields(new ApiError(409, "conflict", "name: taken"))).toEqual([]);
    expect(invalidFields(new Error("links.0: x"))).toEqual([]);
  });
});

describe("skill tags", () => {
  it("splits on commas, keeps case, collapses spaces, drops duplicates without case and respects the limit", () => {
    // kept as written (SQL, iOS), duplicates found without case
    expect(addSkills(["Go"], "Machine   Learning, go, , SQL, iOS, sql", 30)).toEqual(["Go", "Machine Learning", "SQL", "iOS"]);
    expect(addSkills(["a", "b"], "c, d", 3)).toEqual(["a", "b", "c"]);
  });
});

describe("contacts for letting people in", async () => {
  const { contactHashes, normalizeNumbers, regionOf, sha256Hex } = await import("../src/invites/contacts");

  it("hashes like Python's hashlib.sha256(b'+4915123456789').hexdigest()", async () => {
    expect(await sha256Hex("+4915123456789")).toBe("663a4322addcdcc2be9435bfd2505066dc1048b89d33e48f363119f18bdd71e8");
  });

  it("normalises pasted numbers to E.164 in the member's region, drops duplicates, reports bad ones", () => {
    const region = regionOf("+4915190000021");
    expect(region).toBe("DE");
    const { numbers, invalid } = normalizeNumbers("0151 23456789\n+49 151 2345-6789; 0049 30 1234567, 12, +1 (415) 555-2671", region);
    expect(numbers).toEqual(["+4915123456789", "+49301234567", "+14155552671"]);
    expect(invalid).toEqual(["12"]);
  });

  it("reads the Contact Picker's list of numbers the same way", () => {
    expect(normalizeNumbers(["+44 20 7946 0958", "not a number"], "DE")).toEqual({ numbers: ["+442079460958"], invalid: ["not a number"] });
  });

  it("uploads one hex digest per number", async () => {
    const hashes = await contactHashes(["+4915123456789", "+14155552671"]);
    expect(hashes).toHaveLength(2);
    for (const hash of hashes) expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hashes[0]).toBe(await sha256Hex("+4915123456789"));
  });
});
