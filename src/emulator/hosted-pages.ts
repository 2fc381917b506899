// The HTML of the emulator's AuthKit pages: server-rendered, no script, every value escaped.
// Each page names itself (`data-page`), its step (`data-step`) and its error (`data-error`), so a
// test can read it without a DOM and a browser test can select by role or label.
import type { PendingStep } from './auth-api.js';

export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const STYLE = `
body { font-family: system-ui, sans-serif; background: #f4f4f7; margin: 0; }
main { max-width: 24rem; margin: 4rem auto; background: #fff; padding: 2rem; border-radius: 0.75rem;
  box-shadow: 0 1px 4px rgba(0,0,0,.12); }
h1 { font-size: 1.35rem; margin: 0 0 1.25rem; }
label { display: block; font-size: .9rem; margin: .75rem 0 .25rem; }
input[type=email], input[type=password], input[type=text] { width: 100%; box-sizing: border-box;
  padding: .55rem; border: 1px solid #bbb; border-radius: .4rem; font-size: 1rem; }
button, a.button { display: block; width: 100%; box-sizing: border-box; margin-top: 1.1rem; padding: .6rem;
  border: 0; border-radius: .4rem; background: #6363f1; color: #fff; font-size: 1rem; text-align: center;
  text-decoration: none; cursor: pointer; }
a.button.secondary { background: #fff; color: #222; border: 1px solid #bbb; }
.error { background: #fdecec; color: #8a1212; padding: .6rem; border-radius: .4rem; }
.note { color: #555; font-size: .85rem; }
footer { color: #888; font-size: .75rem; margin-top: 1.5rem; text-align: center; }
`;

function layout(page: string, title: string, body: string, extra = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body><main data-page="${page}"${extra}><h1>${escapeHtml(title)}</h1>
${body}
<footer>WorkOS AuthKit, emulated by workos-migrate</footer></main></body></html>`;
}

function errorBlock(error: PageError | null): string {
  if (!error) return '';
  return `<p class="error" role="alert" data-error="${escapeHtml(error.code)}">${escapeHtml(error.message)}</p>`;
}

function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;
}

/** An error shown on a page: `code` is WorkOS's code where it has one. */
export interface PageError {
  code: string;
  message: string;
}

interface EmailPageInput {
  authorizationId: string;
  email: string;
  error: PageError | null;
}

/** A page whose form starts with the authorization's hidden id and the email field. */
function emailPage(
  page: 'sign-in' | 'sign-up',
  title: string,
  input: EmailPageInput,
  form: { action: string; fields: string; after: (id: string) => string },
): string {
  return layout(
    page,
    title,
    `${errorBlock(input.error)}
<form method="post" action="${form.action}">
${hidden('authorization', input.authorizationId)}
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(input.email)}">
${form.fields}
</form>
${form.after(encodeURIComponent(input.authorizationId))}`,
  );
}

export function signInPage(input: EmailPageInput): string {
  return emailPage('sign-in', 'Sign in', input, {
    action: '/authkit/password',
    fields: `<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>`,
    after: (
      id,
    ) => `<a class="button secondary" href="/authkit/oauth?authorization=${id}&amp;provider=GoogleOAuth">Continue with Google</a>
<p class="note">No account? <a href="/authkit/sign-up?authorization=${id}">Sign up</a></p>`,
  });
}

export function signUpPage(input: EmailPageInput): string {
  return emailPage('sign-up', 'Create an account', input, {
    action: '/authkit/sign-up',
    fields: `<label for="first_name">First name</label>
<input id="first_name" name="first_name" type="text" autocomplete="given-name">
<label for="last_name">Last name</label>
<input id="last_name" name="last_name" type="text" autocomplete="family-name">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required>
<button type="submit">Sign up</button>`,
    after: (id) =>
      `<p class="note">Have an account? <a href="/authkit/sign-in?authorization=${id}">Sign in</a></p>`,
  });
}

/** The simulated OAuth provider's consent screen ("Sign in with Google"). */
export function oauthProviderPage(input: {
  authorizationId: string;
  provider: string;
  providerName: string;
  email: string;
  error: PageError | null;
}): string {
  return layout(
    'oauth',
    `Sign in with ${input.providerName}`,
    `<p class="note">A simulated ${escapeHtml(input.providerName)} account: type the account the provider would answer.</p>
${errorBlock(input.error)}
<form method="post" action="/authkit/oauth">
${hidden('authorization', input.authorizationId)}
${hidden('provider', input.provider)}
<label for="email">${escapeHtml(input.providerName)} account email</label>
<input id="email" name="email" type="email" required value="${escapeHtml(input.email)}">
<label for="name">Name</label>
<input id="name" name="name" type="text" autocomplete="name">
<label><input id="email_verified" name="email_verified" type="checkbox" value="true" checked> ${escapeHtml(input.providerName)} has verified this email</label>
<button type="submit">Continue</button>
</form>`,
    ` data-provider="${escapeHtml(input.provider)}"`,
  );
}

const STEP_TEXT: Record<PendingStep, { title: string; prompt: string }> = {
  email_verification: {
    title: 'Verify your email',
    prompt: 'Enter the one-time code sent to your email.',
  },
  mfa_enrollment: {
    title: 'Set up two-factor authentication',
    prompt: 'Add an authenticator app, then enter the code it shows.',
  },
  mfa_challenge: {
    title: 'Two-factor authentication',
    prompt: 'Enter the code from your authenticator app.',
  },
  organization_selection_required: {
    title: 'Choose an organization',
    prompt: 'Choose the organization to sign in to.',
  },
  radar_challenge: {
    title: 'Confirm it is you',
    prompt: 'Enter the one-time code sent to your email.',
  },
};

/** A step after the first factor: a one-time code, or the organization to sign in to. */
export function stepPage(input: {
  authorizationId: string;
  step: PendingStep;
  email: string;
  organizations: string[];
  oneTimeCode: string;
  error: PageError | null;
}): string {
  const text = STEP_TEXT[input.step];
  const field =
    input.step === 'organization_selection_required'
      ? input.organizations
          .map(
            (id, index) =>
              `<label><input type="radio" name="organization_id" value="${escapeHtml(id)}"${index === 0 ? ' checked' : ''}> ${escapeHtml(id)}</label>`,
          )
          .join('\n')
      : `<label for="code">One-time code</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required>
<p class="note">Emulator: the code is ${escapeHtml(input.oneTimeCode)}.</p>`;
  return layout(
    'step',
    text.title,
    `<p>${escapeHtml(text.prompt)}</p><p class="note">${escapeHtml(input.email)}</p>
${errorBlock(input.error)}
<form method="post" action="/authkit/step">
${hidden('authorization', input.authorizationId)}
${field}
<button type="submit">Continue</button>
</form>`,
    ` data-step="${input.step}"`,
  );
}

/** A page the sign-in cannot continue from (SSO required, an invalid request, an expired link). */
export function errorPage(error: PageError & { title: string }): string {
  return layout('error', error.title, errorBlock(error));
}
