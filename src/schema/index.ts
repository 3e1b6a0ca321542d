import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './notification.ts';
import './emit.ts';
import './preferences.ts';
import './subscriptions.ts';
import './erase.ts';
import './views.ts';

/** The GraphQL schema. */
export const schema = builder.toSchema();

/** The SDL written to schema.graphql (sorted, so diffs are stable). */
export const printedSchema = () => `${printSchema(lexicographicSortSchema(schema))}\n`;
