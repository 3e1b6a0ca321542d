import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { variablesBytes } from '../../src/http/variables-size.ts';

// The front door refuses oversized `variables` from this scan, before JSON.parse: it must measure
// what JSON.parse would take as `variables`, whatever surrounds it (strings holding quotes,
// braces and backslashes, keys in any order, escaped keys), or a body could slip past the limit.

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe('variablesBytes', () => {
  it('measures the variables of any JSON body, keys in any order (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string(), fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }), (variables, query, other) => {
        const { variables: _drop, ...rest } = other;
        const body = { ...rest, query, variables };
        expect(variablesBytes(Buffer.from(JSON.stringify(body)))).toBe(bytes(variables));
      }),
      { numRuns: 500 },
    );
  });

  it('with whitespace around the tokens', () => {
    const body = ' {\n "query" : "{ a }" ,\t"variables" : {"s": "} ] \\" {"} \n}';
    expect(variablesBytes(Buffer.from(body))).toBe('{"s": "} ] \\" {"}'.length);
  });

  it('an escaped key counts, and a repeated key counts each time', () => {
    expect(variablesBytes(Buffer.from('{"\\u0076ariables":[1,2,3],"query":"q"}'))).toBe(7);
    expect(variablesBytes(Buffer.from('{"variables":[1],"variables":[1,2]}'))).toBe(3 + 5);
  });

  it('a body that is not an object measures nothing (JSON.parse or Yoga refuses it)', () => {
    expect(variablesBytes(Buffer.from('[{"variables":[1,2,3]}]'))).toBe(0);
    expect(variablesBytes(Buffer.from('query=x'))).toBe(0);
    expect(variablesBytes(Buffer.from(''))).toBe(0);
  });
});
