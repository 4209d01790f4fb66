package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// Role is what a token may do. Each role may do what the roles below it may.
type Role int

// Roles, weakest first.
const (
	RoleNone   Role = iota // no token: only health and reflection
	RoleViewer             // read
	RoleEditor             // apply, backfill, cancel, report
	RoleAdmin              // delete, prune
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleEditor:
		return "editor"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole parses "viewer", "editor" or "admin".
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "viewer":
		return RoleViewer, nil
	case "editor":
		return RoleEditor, nil
	case "admin":
		return RoleAdmin, nil
	}
	return RoleNone, fmt.Errorf("unknown role %q (want viewer, editor or admin)", s)
}

// Token is one accepted bearer token.
type Token struct {
	Token string
	Role  Role
	// Name identifies the holder in logs and as the actor of writes.
	Name string
}

// ParseTokensFile reads tokens, one per line: "TOKEN ROLE [NAME]". Blank
// lines and lines starting with # are skipped.
func ParseTokensFile(r io.Reader) ([]Token, error) {
	var out []Token
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("tokens line %d: want \"TOKEN ROLE [NAME]\"", line)
		}
		role, err := ParseRole(f[1])
		if err != nil {
			return nil, fmt.Errorf("tokens line %d: %w", line, err)
		}
		t := Token{Token: f[0], Role: role, Name: fmt.Sprintf("token-%d", line)}
		if len(f) == 3 {
			t.Name = f[2]
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	return out, nil
}

// ParseTokensEnv parses STRATA_TOKENS: comma-separated TOKEN:ROLE[:NAME].
func ParseTokensEnv(s string) ([]Token, error) {
	var out []Token
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		f := strings.Split(item, ":")
		if len(f) < 2 || len(f) > 3 || f[0] == "" {
			return nil, fmt.Errorf("STRATA_TOKENS item %d: want TOKEN:ROLE[:NAME]", i+1)
		}
		role, err := ParseRole(f[1])
		if err != nil {
			return nil, fmt.Errorf("STRATA_TOKENS item %d: %w", i+1, err)
		}
		t := Token{Token: f[0], Role: role, Name: fmt.Sprintf("env-token-%d", i+1)}
		if len(f) == 3 && f[2] != "" {
			t.Name = f[2]
		}
		out = append(out, t)
	}
	return out, nil
}

type principal struct {
	name string
	role Role
}

// authenticator checks bearer tokens. Tokens are kept by their SHA-256 so
// a lookup takes the same time whatever the token.
type authenticator struct {
	tokens map[[32]byte]principal
}

func newAuthenticator(tokens []Token) (*authenticator, error) {
	a := &authenticator{tokens: make(map[[32]byte]principal, len(tokens))}
	for i, t := range tokens {
		if t.Token == "" {
			return nil, fmt.Errorf("token %d is empty", i+1)
		}
		if t.Role < RoleViewer || t.Role > RoleAdmin {
			return nil, fmt.Errorf("token %d (%s): no role", i+1, t.Name)
		}
		h := sha256.Sum256([]byte(t.Token))
		if _, dup := a.tokens[h]; dup {
			return nil, fmt.Errorf("token %d (%s) is listed twice", i+1, t.Name)
		}
		a.tokens[h] = principal{name: t.Name, role: t.Role}
	}
	return a, nil
}

func (a *authenticator) enabled() bool { return len(a.tokens) > 0 }

type principalKey struct{}

// actor returns the name of the caller for the catalog's records.
func actor(ctx context.Context) string {
	if p, ok := ctx.Value(principalKey{}).(principal); ok {
		return p.name
	}
	return "anonymous"
}

// authorize checks the caller of method against the role it needs and
// returns ctx with the caller's principal.
func (a *authenticator) authorize(ctx context.Context, method string, req any) (context.Context, error) {
	need := requiredRole(method, req)
	if need == RoleNone {
		return ctx, nil
	}
	if !a.enabled() {
		return context.WithValue(ctx, principalKey{}, principal{name: "anonymous", role: RoleAdmin}), nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	var tok string
	for _, v := range md.Get("authorization") {
		if after, ok := cutPrefixFold(v, "bearer "); ok {
			tok = strings.TrimSpace(after)
			break
		}
	}
	if tok == "" {
		return ctx, status.Error(codes.Unauthenticated, "missing bearer token (authorization: Bearer TOKEN)")
	}
	p, ok := a.tokens[sha256.Sum256([]byte(tok))]
	if !ok {
		return ctx, status.Error(codes.Unauthenticated, "unknown bearer token")
	}
	if p.role < need {
		return ctx, status.Errorf(codes.PermissionDenied, "%s needs the %s role; token %s has %s", shortMethod(method), need, p.name, p.role)
	}
	return context.WithValue(ctx, principalKey{}, p), nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// methodRoles is the role each method needs; a method not listed needs
// admin (new methods are closed until classified).
var methodRoles = map[string]Role{
	"/strata.v1.AssetService/GetAsset":                               RoleViewer,
	"/strata.v1.AssetService/ListAssets":                             RoleViewer,
	"/strata.v1.AssetService/ListDynamicPartitions":                  RoleViewer,
	"/strata.v1.AssetService/ApplyAssets":                            RoleEditor, // prune: admin; dry run: viewer
	"/strata.v1.AssetService/AddDynamicPartitions":                   RoleEditor,
	"/strata.v1.AssetService/DeleteDynamicPartitions":                RoleAdmin,
	"/strata.v1.AssetService/DeleteAsset":                            RoleAdmin,
	"/strata.v1.AssetService/ListAssetRevisions":                     RoleViewer,
	"/strata.v1.AssetService/ListMaterializations":                   RoleViewer,
	"/strata.v1.LineageService/GetLineage":                           RoleViewer,
	"/strata.v1.LineageService/GetProvenance":                        RoleViewer,
	"/strata.v1.PartitionService/ListPartitionStatuses":              RoleViewer,
	"/strata.v1.PartitionService/GetPartitionHealth":                 RoleViewer,
	"/strata.v1.PartitionService/ExplainPartition":                   RoleViewer,
	"/strata.v1.BackfillService/CreateBackfill":                      RoleEditor, // dry run: viewer
	"/strata.v1.BackfillService/GetBackfill":                         RoleViewer,
	"/strata.v1.BackfillService/ListBackfills":                       RoleViewer,
	"/strata.v1.BackfillService/CancelBackfill":                      RoleEditor,
	"/strata.v1.BackfillService/RetryBackfill":                       RoleEditor, // dry run: viewer
	"/strata.v1.RunService/ListRuns":                                 RoleViewer,
	"/strata.v1.RunService/GetRun":                                   RoleViewer,
	"/strata.v1.RunService/GetRunLogs":                               RoleViewer,
	"/strata.v1.RunService/StreamRunLogs":                            RoleViewer,
	"/strata.v1.RunService/CancelRun":                                RoleEditor,
	"/strata.v1.RunService/ReportMaterialization":                    RoleEditor,
	"/strata.v1.RunService/ReportObservation":                        RoleEditor,
	"/strata.v1.RunService/ReportCheckResult":                        RoleEditor,
	"/strata.v1.WorkerService/ClaimRuns":                             RoleEditor,
	"/strata.v1.WorkerService/Heartbeat":                             RoleEditor,
	"/strata.v1.WorkerService/AppendRunLog":                          RoleEditor,
	"/strata.v1.WorkerService/FinishRun":                             RoleEditor,
	"/grpc.health.v1.Health/Check":                                   RoleNone,
	"/grpc.health.v1.Health/Watch":                                   RoleNone,
	"/grpc.health.v1.Health/List":                                    RoleNone,
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      RoleNone,
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": RoleNone,
}

// requiredRole is the role method needs for req (nil for streams, checked
// before the request is read).
func requiredRole(method string, req any) Role {
	switch r := req.(type) {
	case *stratav1.ApplyAssetsRequest:
		switch {
		case r.GetDryRun():
			return RoleViewer
		case r.GetPrune():
			return RoleAdmin
		}
	case *stratav1.CreateBackfillRequest:
		if r.GetDryRun() {
			return RoleViewer
		}
	case *stratav1.RetryBackfillRequest:
		if r.GetDryRun() {
			return RoleViewer
		}
	}
	role, ok := methodRoles[method]
	if !ok {
		return RoleAdmin
	}
	return role
}

func shortMethod(full string) string {
	if i := strings.LastIndex(full, "/"); i >= 0 {
		return full[i+1:]
	}
	return full
}
