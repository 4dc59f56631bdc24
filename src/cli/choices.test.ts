import { describe, expect, it } from 'vitest';
import { DRIVER_NAMES, TOKEN_ROLES } from '../branches/index.js';
import { DRIVER_CHOICES, TOKEN_ROLE_CHOICES } from './choices.js';

describe('CLI option choices', () => {
  it('are the domain\'s lists', () => {
    expect([...DRIVER_CHOICES]).toEqual([...DRIVER_NAMES]);
    expect([...TOKEN_ROLE_CHOICES]).toEqual([...TOKEN_ROLES]);
  });
});
