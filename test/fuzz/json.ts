/**
 * A JSON value the fuzzer can write byte for byte, including what JSON.stringify cannot: own
 * `__proto__` keys, duplicate keys, raw text (`1e999`, deep nesting), invalid UTF-8 bytes inside
 * strings, and secrets picked from the run's live pool only when the request is sent.
 */
export type J = null | boolean | number | string | J[] | Obj | RawText | Bytes | Dyn;

/** An object as an ordered list of entries, so `__proto__` and repeated keys survive. */
export class Obj {
  constructor(readonly entries: [string, J][]) {}
  has(name: string): boolean {
    return this.entries.some(([k]) => k === name);
  }
  get(name: string): J | undefined {
    return this.entries.find(([k]) => k === name)?.[1];
  }
}
/** JSON text inserted verbatim. */
export class RawText {
  constructor(readonly text: string) {}
}
/** A JSON string made of `prefix`, then raw bytes (usually invalid UTF-8), then `suffix`. */
export class Bytes {
  constructor(
    readonly prefix: string,
    readonly bytes: number[],
    readonly suffix = "",
  ) {}
}
/** A credential from the live pool (secrets issued so far), chosen at send time; `mutate` forges it. */
export class Dyn {
  constructor(
    readonly pick: number,
    readonly mutate: "none" | "flip" | "truncate" | "append" = "none",
  ) {}
}

export type Resolve = (d: Dyn) => string;

/** Serialises `v` into byte chunks. */
export function serialize(v: J, resolve: Resolve, out: (string | Buffer)[] = []): (string | Buffer)[] {
  if (v instanceof Obj) {
    out.push("{");
    v.entries.forEach(([k, val], i) => {
      if (i) out.push(",");
      out.push(JSON.stringify(k), ":");
      serialize(val, resolve, out);
    });
    out.push("}");
  } else if (Array.isArray(v)) {
    out.push("[");
    v.forEach((x, i) => {
      if (i) out.push(",");
      serialize(x, resolve, out);
    });
    out.push("]");
  } else if (v instanceof RawText) out.push(v.text);
  else if (v instanceof Bytes) out.push(JSON.stringify(v.prefix).slice(0, -1), Buffer.from(v.bytes), JSON.stringify(v.suffix).slice(1));
  else if (v instanceof Dyn) out.push(JSON.stringify(resolve(v)));
  else out.push(JSON.stringify(v) ?? "null");
  return out;
}

export function toBuffer(chunks: (string | Buffer)[]): Buffer {
  return Buffer.concat(chunks.map((c) => (typeof c === "string" ? Buffer.from(c, "utf8") : c)));
}

/** What the generator put into a value, for the properties that expect a particular answer. */
export interface Traits {
  /** invalid UTF-8 bytes or a lone surrogate somewhere in a string */
  badUtf8: boolean;
}

export function traits(v: J, t: Traits = { badUtf8: false }): Traits {
  if (v instanceof Obj) for (const [, x] of v.entries) traits(x, t);
  else if (Array.isArray(v)) for (const x of v) traits(x, t);
  else if (v instanceof Bytes) t.badUtf8 = true;
  else if (typeof v === "string" && hasLoneSurrogate(v)) t.badUtf8 = true;
  return t;
}

export function hasLoneSurrogate(s: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}
