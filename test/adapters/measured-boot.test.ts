import { afterAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileMeasuredBoot, sha256File } from '../../src/adapters/device/measured-boot.js';
import { isAirlockError } from '../../src/core/errors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-measured-boot-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, bytes: Uint8Array): string => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
};
const digestOf = (bytes: Uint8Array): string =>
  createHash('sha256').update(bytes).digest('base64url');

describe('measured boot of an image file', () => {
  it('hashes the whole file, across read chunks, and an empty one', async () => {
    for (const size of [0, 1, 64 * 1024, (1 << 20) + 17, 3 * (1 << 20)]) {
      const bytes = randomBytes(size);
      expect(await sha256File(write(`image-${size}`, bytes))).toBe(digestOf(bytes));
    }
  });

  it('reads the file afresh at every measurement: one changed byte changes the digest', async () => {
    const bytes = randomBytes(4096);
    const image = write('changing.img', bytes);
    const boot = fileMeasuredBoot({ image, name: 'fw', version: '1.0.0' });
    const before = await boot.measure();
    bytes[2048] = bytes[2048]! ^ 1;
    fs.writeFileSync(image, bytes);
    const after = await boot.measure();
    expect(before.digest).not.toBe(after.digest);
    expect(after).toEqual({
      name: 'fw',
      version: '1.0.0',
      digest: digestOf(bytes),
      debug: 'disabled-permanently',
    });
  });

  it('refuses a directory and a missing file with ERR_CONFIG naming the option', async () => {
    for (const file of [dir, path.join(dir, 'absent.img')]) {
      const e = await sha256File(file, '--image').catch((x: unknown) => x);
      expect(isAirlockError(e, 'ERR_CONFIG')).toBe(true);
      expect((e as Error).message).toContain(`--image ${file} is not a readable file`);
      expect((e as { details?: unknown }).details).toEqual({
        hint: 'give --image the path of the firmware image file',
      });
    }
  });
});
