// Independent check of a Tarn snapshot bundle with sigstore-js (@sigstore/verify), public-key
// trust, no transparency log or timestamp authority (thresholds 0).
//
// usage: node verify-bundle.mjs BUNDLE.json PUBLIC.pem OBJECT_FILE
// exit 0 when the DSSE signature verifies with the key and the in-toto statement's subject
// digest equals the SHA-256 of OBJECT_FILE; non-zero otherwise.
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

const [bundlePath, keyPath, objectPath] = process.argv.slice(2);
const bundle = bundleFromJSON(JSON.parse(readFileSync(bundlePath, 'utf8')));
const publicKey = crypto.createPublicKey(readFileSync(keyPath));
const keyId = crypto.createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');

const root = TrustedRoot.fromJSON({
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [],
});
const trust = toTrustMaterial(root, (hint) => {
  if (hint !== keyId) throw new Error(`unknown key hint ${hint}`);
  return { publicKey, validFor: () => true };
});
const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
verifier.verify(toSignedEntity(bundle));

const statement = JSON.parse(Buffer.from(bundle.content.dsseEnvelope.payload).toString('utf8'));
const digest = crypto.createHash('sha256').update(readFileSync(objectPath)).digest('hex');
if (!statement.subject.some((s) => s.digest.sha256 === digest)) {
  console.error(`subject digest does not match ${objectPath} (${digest})`);
  process.exit(1);
}
console.log(`verified: key ${keyId}, subject ${statement.subject[0].name} sha256:${digest}`);
