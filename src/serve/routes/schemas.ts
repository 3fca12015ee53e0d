/** Schemas shared by several routes. */
import { ID_PATTERN } from '../models.js';

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: ID_PATTERN } },
} as const;

export const modelQuery = {
  type: 'object',
  properties: { model: { type: 'string', pattern: ID_PATTERN } },
  additionalProperties: false,
} as const;
