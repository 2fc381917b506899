// The workos-migrate settings of the example app: which columns map to which WorkOS fields.
import { defineUsersMapping } from 'workos-migrate';
import { users } from './schema.js';

export const usersMapping = defineUsersMapping({
  table: users,
  id: users.id,
  email: users.email,
  firstName: users.firstName,
  lastName: users.lastName,
  emailVerified: users.emailVerified,
  passwordHash: users.passwordHash,
  disabled: users.disabled,
  metadata: { plan: users.plan },
});

/** WorkOS users carry `external_id = app_<local id>`. */
export const EXTERNAL_ID_PREFIX = 'app_';
