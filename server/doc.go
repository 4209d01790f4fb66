// Package server implements Strata's gRPC services (proto/strata/v1) and
// serves them, with their REST gateway, on one listener: request
// validation, conversion between the protobuf messages and the domain
// types, authentication, limits, metrics, and the mapping of errors to
// status codes (errors.go, the one place).
//
// # Serving
//
// New builds a Server from a Config (the catalog, a logger, a Prometheus
// registry, tokens, a clock; nothing global), and Serve serves it on a
// net.Listener until its context ends, then drains. One net/http server
// speaks HTTP/1.1 and cleartext HTTP/2: requests with content type
// application/grpc go to the grpc.Server; the rest to a mux with
//
//	/v1/...        the REST gateway (grpc-gateway, proto field names)
//	/openapi.json  the OpenAPI document
//	/metrics       Prometheus metrics of the injected registry
//	/healthz       200 when the catalog answers
//	/              Config.UI (404 until the UI lands)
//
// The gateway calls the services over an in-memory gRPC connection, so one
// pair of interceptors (unary and stream) guards gRPC and REST alike: it
// checks the bearer token against the method's role (methodRoles in
// auth.go), bounds the request size, counts and times the request, logs
// it, and turns any error into a status with Status.
//
// # Validation
//
// Every write validates fully before writing. ApplyAssets builds the graph
// the catalog would hold after the apply (the request's assets first, so
// field paths read assets[i]..., then the current assets it does not
// replace, unless pruning) with asset.NewGraph, and applies with the
// revision it validated against, so a concurrent apply makes it fail with
// Aborted rather than write an unchecked graph.
//
// # Statuses and backfill plans
//
// Partition statuses come from a StatusSource and backfill plans from a
// BackfillPlanner, both set in Config. Until the planner package provides
// them, CatalogStatus derives missing / fresh / stale (code version) /
// running / failed from the catalog, and the interim planner selects each
// asset's partitions from the request's range (a time span mapped onto
// each asset's windows) and filters them by status.
package server
