package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"

	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

// Environment variables of the API commands.
const (
	envServer = "STRATA_SERVER"
	envToken  = "STRATA_TOKEN"
)

const defaultServer = "127.0.0.1:7070"

// apiFlags are the flags every command that talks to the server takes.
type apiFlags struct {
	server, token, output string
	timeout               time.Duration
}

func newAPIFlags(fs *flag.FlagSet) *apiFlags {
	f := &apiFlags{}
	fs.StringVar(&f.server, "server", "", "server address (default $"+envServer+" or "+defaultServer+")")
	fs.StringVar(&f.token, "token", "", "bearer token (default $"+envToken+")")
	fs.StringVar(&f.output, "o", "table", "output format: table, json or yaml")
	fs.DurationVar(&f.timeout, "timeout", 60*time.Second, "timeout of each request")
	return f
}

// parseAPIFlags parses args, allowing flags after positional arguments
// ("backfill create SEL --from K"), and returns the positional ones.
func parseAPIFlags(fs *flag.FlagSet, args []string) (pos []string, done bool, err error) {
	fs.SetOutput(io.Discard)
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stdout)
				fs.Usage()
				return nil, true, nil
			}
			return nil, true, usageErrorf("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return pos, false, nil
}

// api is a connection to the server and how to print answers.
type api struct {
	c      *cli
	conn   *grpc.ClientConn
	token  string
	output string
	tmo    time.Duration
}

func (c *cli) dial(f *apiFlags) (*api, error) {
	switch f.output {
	case "table", "json", "yaml":
	default:
		return nil, usageErrorf("-o %q: use table, json or yaml", f.output)
	}
	addr := f.server
	if addr == "" {
		addr = os.Getenv(envServer)
	}
	if addr == "" {
		addr = defaultServer
	}
	addr = strings.TrimPrefix(strings.TrimPrefix(addr, "http://"), "grpc://")
	tok := f.token
	if tok == "" {
		tok = os.Getenv(envToken)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20), grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return nil, usageErrorf("server %q: %v", addr, err)
	}
	return &api{c: c, conn: conn, token: tok, output: f.output, tmo: f.timeout}, nil
}

func (a *api) close() { a.conn.Close() }

// ctx returns a request context with the token and the timeout.
func (a *api) ctx() (context.Context, context.CancelFunc) {
	ctx := context.Background()
	if a.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+a.token)
	}
	if a.tmo > 0 {
		return context.WithTimeout(ctx, a.tmo)
	}
	return context.WithCancel(ctx)
}

// streamCtx is ctx without the timeout, for streams that follow.
func (a *api) streamCtx() (context.Context, context.CancelFunc) {
	ctx := context.Background()
	if a.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+a.token)
	}
	return context.WithCancel(ctx)
}

func (a *api) assets() stratav1.AssetServiceClient { return stratav1.NewAssetServiceClient(a.conn) }
func (a *api) lineage() stratav1.LineageServiceClient {
	return stratav1.NewLineageServiceClient(a.conn)
}
func (a *api) parts() stratav1.PartitionServiceClient {
	return stratav1.NewPartitionServiceClient(a.conn)
}
func (a *api) backfills() stratav1.BackfillServiceClient {
	return stratav1.NewBackfillServiceClient(a.conn)
}
func (a *api) runs() stratav1.RunServiceClient { return stratav1.NewRunServiceClient(a.conn) }

// structured prints m as protobuf JSON (proto field names) or YAML and
// reports true; for the table format it does nothing and reports false.
func (a *api) structured(m proto.Message) (bool, error) {
	if a.output == "table" {
		return false, nil
	}
	return true, printMessage(a.c.stdout, m, a.output)
}

func printMessage(w io.Writer, m proto.Message, format string) error {
	data, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return err
	}
	if format == "json" {
		// protojson's own indentation is deliberately unstable; re-indent.
		var buf bytes.Buffer
		if err := json.Indent(&buf, data, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err = w.Write(buf.Bytes())
		return err
	}
	// JSON is YAML: decode into a node (keeping key order) and print it in
	// block style.
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return err
	}
	blockStyle(&n)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return err
	}
	return enc.Close()
}

func blockStyle(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = 0
	}
	if n.Kind == yaml.ScalarNode && n.Style == yaml.DoubleQuotedStyle {
		n.Style = 0
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// rpcError turns an API error into the CLI's: bad input (InvalidArgument,
// and NotFound of what the user named) exits 2, everything else 1. Field
// violations are listed one per line.
func rpcError(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return failErrorf("%v", err)
	}
	var b strings.Builder
	b.WriteString(st.Message())
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		if vs := br.GetFieldViolations(); len(vs) > 1 || (len(vs) == 1 && !strings.Contains(st.Message(), vs[0].GetDescription())) {
			for _, v := range vs {
				fmt.Fprintf(&b, "\n  %s: %s", v.GetField(), v.GetDescription())
			}
		}
	}
	msg := b.String()
	switch st.Code() {
	case codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition, codes.AlreadyExists, codes.OutOfRange:
		return &exitError{code: exitUsage, err: errors.New(msg)}
	case codes.Unavailable:
		return failErrorf("server unavailable (is `strata server` running? set --server or $%s): %s", envServer, msg)
	case codes.Unauthenticated, codes.PermissionDenied:
		return failErrorf("%s (set --token or $%s)", msg, envToken)
	}
	return failErrorf("%s", msg)
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

func fmtTime(ts interface{ AsTime() time.Time }, valid bool) string {
	if !valid {
		return "-"
	}
	return ts.AsTime().UTC().Format("2006-01-02 15:04:05")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// apiSubcommand dispatches "strata GROUP SUB ..." commands.
func (c *cli) apiSubcommand(group string, subs map[string]func([]string) error, order []string, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := c.stderr
		if len(args) > 0 {
			w = c.stdout
		}
		fmt.Fprintf(w, "Usage: strata %s <%s> [flags]\n", group, strings.Join(order, "|"))
		if len(args) == 0 {
			return usageErrorf("%s: no subcommand given", group)
		}
		return nil
	}
	fn, ok := subs[args[0]]
	if !ok {
		return usageErrorf("%s: unknown subcommand %q (want %s)", group, args[0], strings.Join(order, ", "))
	}
	return fn(args[1:])
}
