// The baseline: a worker that forwards every request to the origin unchanged (same path, query,
// method, headers and body) and returns the origin's response, with no other work.
export default {
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, request);
  },
};
