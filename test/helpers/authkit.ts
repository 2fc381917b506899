// Drives the emulator's hosted AuthKit pages over plain HTTP (the client is public, in
// `workos-migrate/emulator`, so rehearsal scripts use it too):
//
//   const url = workos.userManagement.getAuthorizationUrl({ provider: 'authkit', redirectUri, ... });
//   const { code, state } = expectCode(await hostedPasswordSignIn(url, { email, password }));
//   await workos.userManagement.authenticateWithCode({ code, clientId });
//
// A page instead of a redirect (wrong password, a sign-in step, an error) is answered as a
// `HostedPage`: `page`, `step`, `error` (by code), `html`, and `submit(fields)` to continue.
export {
  completeHostedStep as completeStep,
  EMULATOR_ONE_TIME_CODE as ONE_TIME_CODE,
  expectCode,
  type HostedAnswer,
  type HostedPage,
  type HostedRedirect,
  hostedGoogleSignIn,
  hostedPasswordSignIn,
  hostedSignUp,
  openAuthorizationUrl,
} from 'workos-migrate/emulator';
