// A client for the emulator's hosted AuthKit pages, over plain HTTP, as a browser would drive them:
// GET the authorization URL the SDK built, submit the page's form, follow the emulator's own
// redirects, and stop at the redirect to the application (its Location is read, never requested), so
// a script or a test can then call the app's callback itself. It reads the pages by the markers
// hosted-pages.ts puts on them (`data-page`, `data-step`, `data-error`, hidden inputs); it is not a
// general HTML parser, and it uses only `fetch` (none of the emulator's own dependencies).

/** The one-time code every code step of the emulator accepts (the step page says so too). */
export const EMULATOR_ONE_TIME_CODE = '123456';

/** The redirect to the application: `code` and `state` (or the OAuth `error`) from its query. */
export interface HostedRedirect {
  location: string;
  code: string | null;
  state: string | null;
  error: string | null;
}

/** A page the emulator served instead of a redirect to the application. */
export interface HostedPage {
  status: number;
  url: string;
  /** `sign-in`, `sign-up`, `oauth`, `step` or `error`. */
  page: string;
  /** On a step page: `email_verification`, `mfa_enrollment`, `mfa_challenge`, `organization_selection_required`, `radar_challenge`. */
  step: string | null;
  /** The error shown, by code (e.g. `invalid_credentials`, `sso_required`, `invalid_redirect_uri`). */
  error: string | null;
  /** The error's text as shown. */
  message: string | null;
  html: string;
  /** Submits the page's form with these fields over its hidden ones. */
  submit(fields: Record<string, string>): Promise<HostedAnswer>;
}

export type HostedAnswer = HostedRedirect | HostedPage;

function unescapeHtml(value: string): string {
  return value
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

function attribute(html: string, name: string): string | null {
  const match = new RegExp(`${name}="([^"]*)"`).exec(html);
  return match ? unescapeHtml(match[1] as string) : null;
}

/** The emulator's origin is the authorization URL's; anything else is the application's. */
async function follow(response: Response, requestUrl: string, origin: string): Promise<HostedAnswer> {
  if (response.status >= 300 && response.status < 400) {
    const location = new URL(response.headers.get('location') ?? '', requestUrl);
    if (location.origin === origin) return request(location.toString(), origin);
    return {
      location: location.toString(),
      code: location.searchParams.get('code'),
      state: location.searchParams.get('state'),
      error: location.searchParams.get('error'),
    };
  }
  return readPage(response, requestUrl, origin);
}

async function request(url: string, origin: string, form?: URLSearchParams): Promise<HostedAnswer> {
  const response = await fetch(url, {
    method: form ? 'POST' : 'GET',
    redirect: 'manual',
    ...(form
      ? { body: form.toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }
      : {}),
  });
  return follow(response, url, origin);
}

async function readPage(response: Response, url: string, origin: string): Promise<HostedPage> {
  const html = await response.text();
  const main = /<main [^>]*>/.exec(html)?.[0] ?? '';
  const errorTag = /<p class="error"[^>]*>([^<]*)<\/p>/.exec(html);
  const form = /<form method="post" action="([^"]*)">([\s\S]*?)<\/form>/.exec(html);
  const hidden = new URLSearchParams();
  for (const input of form?.[2]?.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g) ?? []) {
    hidden.set(unescapeHtml(input[1] as string), unescapeHtml(input[2] as string));
  }
  // A browser also sends the checked radio button.
  for (const input of form?.[2]?.matchAll(/<input type="radio" name="([^"]*)" value="([^"]*)" checked>/g) ??
    []) {
    hidden.set(unescapeHtml(input[1] as string), unescapeHtml(input[2] as string));
  }
  return {
    status: response.status,
    url,
    page: attribute(main, 'data-page') ?? 'unknown',
    step: attribute(main, 'data-step'),
    error: errorTag ? attribute(errorTag[0], 'data-error') : null,
    message: errorTag ? unescapeHtml(errorTag[1] as string) : null,
    html,
    async submit(fields) {
      if (!form) throw new Error(`the ${attribute(main, 'data-page')} page has no form to submit`);
      const body = new URLSearchParams(hidden);
      for (const [name, value] of Object.entries(fields)) body.set(name, value);
      return request(new URL(unescapeHtml(form[1] as string), url).toString(), origin, body);
    },
  };
}

/** Opens the authorization URL: the hosted page, or (OAuth provider, an error) where it leads. */
export function openAuthorizationUrl(authorizeUrl: string): Promise<HostedAnswer> {
  return request(authorizeUrl, new URL(authorizeUrl).origin);
}

function expectPage(answer: HostedAnswer, page: string): HostedPage {
  if (!('page' in answer)) throw new Error(`expected the ${page} page, got a redirect to ${answer.location}`);
  if (answer.page !== page) {
    throw new Error(
      `expected the ${page} page, got the ${answer.page} page (${answer.status}): ${answer.message}`,
    );
  }
  return answer;
}

/** The redirect's code; throws with what the page said when there is no redirect. */
export function expectCode(answer: HostedAnswer): HostedRedirect & { code: string } {
  if ('page' in answer) {
    throw new Error(
      `expected a redirect with a code, got the ${answer.page} page (${answer.status})${answer.step ? ` at step ${answer.step}` : ''}: ${answer.message ?? ''}`,
    );
  }
  if (answer.code === null) throw new Error(`the redirect to ${answer.location} has no code`);
  return answer as HostedRedirect & { code: string };
}

/** Email and password on the hosted sign-in page. */
export async function hostedPasswordSignIn(
  authorizeUrl: string,
  credentials: { email: string; password: string },
): Promise<HostedAnswer> {
  const page = expectPage(await openAuthorizationUrl(authorizeUrl), 'sign-in');
  return page.submit({ email: credentials.email, password: credentials.password });
}

/** "Continue with Google", then the simulated Google account (verified by Google unless told). */
export async function hostedGoogleSignIn(
  authorizeUrl: string,
  account: { email: string; name?: string; emailVerified?: boolean },
): Promise<HostedAnswer> {
  const first = await openAuthorizationUrl(authorizeUrl);
  let google: HostedPage;
  if ('page' in first && first.page === 'sign-in') {
    const href = /href="([^"]*)">Continue with Google</.exec(first.html)?.[1];
    if (!href) throw new Error('the sign-in page has no "Continue with Google" button');
    google = expectPage(
      await request(new URL(unescapeHtml(href), first.url).toString(), new URL(first.url).origin),
      'oauth',
    );
  } else {
    // provider=GoogleOAuth goes straight to the provider.
    google = expectPage(first, 'oauth');
  }
  return google.submit({
    email: account.email,
    name: account.name ?? '',
    email_verified: account.emailVerified === false ? 'false' : 'true',
  });
}

/** The hosted sign-up page (`screenHint: 'sign-up'`, or the sign-in page's link). */
export async function hostedSignUp(
  authorizeUrl: string,
  account: { email: string; password: string; firstName?: string; lastName?: string },
): Promise<HostedAnswer> {
  let page = await openAuthorizationUrl(authorizeUrl);
  if ('page' in page && page.page === 'sign-in') {
    const href = /href="([^"]*)">Sign up</.exec(page.html)?.[1];
    if (!href) throw new Error('the sign-in page has no "Sign up" link');
    page = await request(new URL(unescapeHtml(href), page.url).toString(), new URL(page.url).origin);
  }
  const signUp = expectPage(page, 'sign-up');
  return signUp.submit({
    email: account.email,
    password: account.password,
    first_name: account.firstName ?? '',
    last_name: account.lastName ?? '',
  });
}

/** Enters the one-time code (or picks the organization) on a step page. */
export function completeHostedStep(
  answer: HostedAnswer,
  fields: { code?: string; organizationId?: string } = {},
) {
  const page = expectPage(answer, 'step');
  return page.submit(
    page.step === 'organization_selection_required'
      ? fields.organizationId
        ? { organization_id: fields.organizationId }
        : {}
      : { code: fields.code ?? EMULATOR_ONE_TIME_CODE },
  );
}
