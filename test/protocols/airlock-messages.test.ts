import { describe, expect, it } from 'vitest';
import {
  AppBootstrapReply,
  DeclarationReply,
  WifiReply,
  parseJson,
} from '../../src/protocols/airlock/messages.js';

describe('Airlock extension replies', () => {
  it('are typed errors when they are not JSON or not of their schema', () => {
    expect(() => parseJson('<html>', DeclarationReply)).toThrow(
      expect.objectContaining({ code: 'ERR_INPUT_MALFORMED_JSON' }),
    );
    for (const body of ['null', '{}', '{"chain":[]}', '{"chain":[1]}']) {
      expect(() => parseJson(body, DeclarationReply), body).toThrow(
        expect.objectContaining({ code: 'ERR_INPUT_SCHEMA' }),
      );
    }
    expect(() =>
      parseJson('{"applicationUrl":"http://x.test/","trustAnchor":"x"}', AppBootstrapReply),
    ).toThrow(expect.objectContaining({ code: 'ERR_INPUT_SCHEMA' }));
    for (const psk of ['short', 'x'.repeat(64), 'tab\there!']) {
      expect(() => parseJson(JSON.stringify({ ssid: 'net', psk }), WifiReply), psk).toThrow(
        expect.objectContaining({ code: 'ERR_INPUT_SCHEMA' }),
      );
    }
  });

  it('parse when well-formed', () => {
    expect(parseJson('{"ssid":"net","psk":"abcdefgh"}', WifiReply)).toEqual({
      ssid: 'net',
      psk: 'abcdefgh',
    });
    expect(parseJson('{"chain":["a.b.c"]}', DeclarationReply).chain).toEqual(['a.b.c']);
  });
});
