// Navigation without a page load. app.js routes on the "strata:route" event.

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url); else history.pushState(null, '', url);
  window.dispatchEvent(new Event('strata:route'));
  if (!replace) window.scrollTo(0, 0);
}

// setQuery changes the query string of the current page without routing
// (filters, zoom), so the URL stays a deep link. With push, Back returns to
// the previous query (the page is then rendered again from the URL).
export function setQuery(params, { push = false } = {}) {
  const u = new URL(location.href);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '' || v === false) u.searchParams.delete(k);
    else u.searchParams.set(k, v);
  }
  if (u.href === location.href) return;
  if (push) history.pushState(null, '', u); else history.replaceState(null, '', u);
}
