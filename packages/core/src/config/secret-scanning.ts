/** The `secret_scanning` section (docs/leaked-keys.md): where leak reports come from and how they are authenticated. */
import { createPublicKey } from "node:crypto";
import { z } from "zod";
import { boolSchema, leaf, mapping, nonEmptyString, EMPTY, typeError } from "./fields.js";

export const GITHUB_PUBLIC_KEYS_URL = "https://api.github.com/meta/public_keys/secret_scanning";

/** True when `pem` is an ECDSA P-256 public key (GitHub signs reports with one). */
export function isP256PublicKeyPem(pem: string): boolean {
  try {
    const k = createPublicKey(pem);
    return k.asymmetricKeyType === "ec" && k.asymmetricKeyDetails?.namedCurve === "prime256v1";
  } catch {
    return false;
  }
}

const httpUrl = () =>
  nonEmptyString().refine(
    (v) => {
      try {
        const u = new URL(v);
        return u.protocol === "https:" || u.protocol === "http:";
      } catch {
        return false;
      }
    },
    { error: "must be an http:// or https:// URL" },
  );

/** The shape of one entry of GitHub's published key document (its `is_current` is accepted and ignored). */
const publicKeyEntry = mapping(
  {
    key_identifier: nonEmptyString(),
    key: nonEmptyString().refine(isP256PublicKeyPem, { error: "must be a PEM ECDSA P-256 public key" }),
    is_current: boolSchema().optional(),
  },
  "must be a {key_identifier, key} mapping",
).transform(({ key_identifier, key }) => ({ key_identifier, key }));

export const secretScanningSchema = mapping({
  github: mapping({
    enabled: leaf(
      "bool",
      boolSchema()
        .prefault(false)
        .describe(
          "Serve POST /v2alpha1/secretScanning/github on the public surface: GitHub secret scanning reports leaked keys there, and each one that is a key of this server is revoked (docs/leaked-keys.md).",
        ),
    ),
    public_keys_url: leaf(
      "string",
      httpUrl()
        .prefault(GITHUB_PUBLIC_KEYS_URL)
        .describe(
          "Where GitHub's report-signing public keys are published; fetched on first use and again when a report names an unknown key id. Not used when public_keys is set.",
        ),
    ),
    public_keys: leaf(
      "object[]",
      z
        .array(publicKeyEntry, { error: typeError("a list of {key_identifier, key} mappings") })
        .prefault([])
        .describe(
          "The report-signing public keys themselves, as [{key_identifier, key}] with PEM keys (the shape of GitHub's published document), for tests and air-gapped installs. When set, no URL is fetched.",
        ),
    ),
  }).prefault(EMPTY),
}).prefault(EMPTY);
