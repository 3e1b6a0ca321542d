// Writes schema.graphql from the Pothos schema (sorted). `npm run generate` runs it; a test fails when it is stale.
import { writeFileSync } from 'node:fs';
import { printedSchema } from '../src/schema/index.ts';

writeFileSync(new URL('../schema.graphql', import.meta.url), printedSchema());
console.log('wrote schema.graphql');
