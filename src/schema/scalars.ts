import { Kind, valueFromASTUntyped } from 'graphql';
import { badInput } from '../errors.ts';
import { builder } from './builder.ts';

builder.scalarType('DateTime', {
  description: 'An ISO-8601 timestamp in UTC.',
  serialize: (value) => (value instanceof Date ? value : new Date(value)).toISOString(),
  parseValue: (value) => {
    const date = new Date(String(value));
    if (Number.isNaN(date.getTime())) throw badInput('Invalid DateTime');
    return date;
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING || Number.isNaN(new Date(ast.value).getTime())) throw badInput('Invalid DateTime');
    return new Date(ast.value);
  },
});

builder.scalarType('JSON', {
  description: 'Any JSON value (notification `data` must be an object of at most 16 KiB).',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});
