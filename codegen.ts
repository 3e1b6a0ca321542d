import type { CodegenConfig } from '@graphql-codegen/cli';

/** Typed documents for the tests (and an example for clients): `npm run codegen`. */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/documents.ts'],
  ignoreNoDocuments: false,
  emitLegacyCommonJSImports: false,
  generates: {
    'test/gql/': {
      preset: 'client',
      config: {
        scalars: { DateTime: 'string', JSON: 'unknown' },
        enumsAsTypes: true,
        useTypeImports: true,
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
