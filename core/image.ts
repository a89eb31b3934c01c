/** A parsed OCI image reference: `[registry/]repository[:tag][@digest]`. */
export interface ImageRef {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-f0-9]{32,}$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/**
 * Parses an image reference. Returns an error string (not an exception) so config validation
 * can report it against the right key.
 */
export function parseImageRef(image: string): ImageRef | string {
  if (image.trim() !== image || image.length === 0 || /\s/.test(image)) {
    return "must be an image reference without spaces";
  }
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      return `has an invalid digest "${digest}" (expected e.g. sha256:<64 hex>)`;
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      return `has an invalid tag "${tag}"`;
    }
  }
  if (rest.length === 0) {
    return "has no repository";
  }
  return { repository: rest, tag, digest };
}

/** Characters allowed in a Kubernetes label value, which is where versions end up. */
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)$/;

/** True when `value` can be a Kubernetes label value (63 chars, alphanumeric ends, `-_.` inside). */
export function isLabelValue(value: string): boolean {
  return LABEL_VALUE.test(value);
}

/**
 * The version a slot runs, derived from its image: the tag, else the first 12 hex of the digest.
 * Returns an error string when the image is not pinned: a rollback target must be immutable,
 * so untagged images and `latest` are refused.
 */
export function versionFromImage(ref: ImageRef): string | { error: string } {
  if (ref.tag !== undefined && ref.tag !== "latest") {
    return ref.tag;
  }
  if (ref.digest !== undefined) {
    return ref.digest.split(":")[1].slice(0, 12);
  }
  return {
    error:
      ref.tag === "latest"
        ? 'uses the mutable tag "latest"; pin a version tag or a digest so rollbacks have an immutable target'
        : "has no tag or digest; pin a version tag or a digest so rollbacks have an immutable target",
  };
}
