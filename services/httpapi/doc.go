// Package httpapi serves the node's two HTTP listeners: the public API
// (health, readiness, metrics, /api/v1/...) and the admin API (the live actor
// tree, fault injection, supervision events, the admin page).
//
// Every route is declared once in a route table (Route) that registers the
// handler and generates the OpenAPI document, so the document cannot drift
// from the handlers. Every error, on both listeners, has one JSON shape
// (ErrorBody: error, code, details) produced from one table (statusOf);
// UnavailableError from the supervision tree becomes 503 with Retry-After.
// Every request carries a correlation id (X-Request-ID, generated when absent
// and echoed back) into the context, the logs and the actor messages it causes.
//
// Handlers translate HTTP to actor messages and back; they hold no domain
// state and must not reach into actors other than through the Tree.
package httpapi
