// The desk's one way to the API: fetch with the session cookie, and back to the login page
// when the session is over (every desk module uses it).

export class SignedOut extends Error {}

/** fetch with the session cookie; a 401 means the session is over: back to the login page. */
export async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    ...options,
    headers: { Accept: "application/json", ...(options.headers || {}) },
  });
  if (response.status === 401) {
    window.location.replace("/login");
    throw new SignedOut();
  }
  return response;
}
