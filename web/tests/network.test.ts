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
  it("splits on commas, lower-cases, collapses spaces, drops duplicates and respects the limit", () => {
    expect(addSkills(["go"], "Machine   Learning, go, , Rust", 30)).toEqual(["go", "machine learning", "rust"]);
    expect(addSkills(["a", "b"], "c, d", 3)).toEqual(["a", "b", "c"]);
  });
});
