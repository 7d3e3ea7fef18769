package pgembed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
)

// Just enough of the PostgreSQL frontend/backend protocol 3.0 (PostgreSQL
// docs, "Frontend/Backend Protocol") to wait for readiness and create the
// database without client binaries or a driver: the startup handshake with
// trust authentication and the simple query flow.

// pgError is an ErrorResponse from the server.
type pgError struct {
	Severity, Code, Message string
}

func (e *pgError) Error() string {
	return fmt.Sprintf("%s: %s (SQLSTATE %s)", e.Severity, e.Message, e.Code)
}

// SQLSTATE codes we act on.
const (
	codeCannotConnectNow  = "57P03" // starting up, recovering, shutting down
	codeDuplicateDatabase = "42P04"
)

type wireConn struct {
	conn net.Conn
	r    *bufio.Reader
}

// wireConnect opens a session as user on database. The context's deadline
// covers the whole session.
func wireConnect(ctx context.Context, addr, user, database string) (*wireConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c := &wireConn{conn: conn, r: bufio.NewReader(conn)}
	// StartupMessage: length, protocol 3.0, name/value pairs, a final NUL.
	msg := binary.BigEndian.AppendUint32(make([]byte, 4), 3<<16)
	for _, s := range []string{"user", user, "database", database, "application_name", "pgembed"} {
		msg = append(append(msg, s...), 0)
	}
	msg = append(msg, 0)
	binary.BigEndian.PutUint32(msg, uint32(len(msg)))
	if _, err := conn.Write(msg); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := c.readUntilReady(true); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// exec runs one simple query and returns how many rows it produced.
func (c *wireConn) exec(sql string) (int, error) {
	if strings.IndexByte(sql, 0) >= 0 {
		return 0, fmt.Errorf("query contains NUL")
	}
	msg := binary.BigEndian.AppendUint32([]byte{'Q'}, uint32(4+len(sql)+1))
	msg = append(append(msg, sql...), 0)
	if _, err := c.conn.Write(msg); err != nil {
		return 0, err
	}
	return c.readUntilReady(false)
}

// close sends Terminate so the server logs no "unexpected EOF".
func (c *wireConn) close() {
	c.conn.Write([]byte{'X', 0, 0, 0, 4})
	c.conn.Close()
}

// readUntilReady reads messages up to ReadyForQuery, counting DataRows. An
// error during startup ends the session, so it returns at once; after a
// query the server still sends ReadyForQuery.
func (c *wireConn) readUntilReady(startup bool) (rows int, err error) {
	var first error
	for {
		typ, body, err := c.readMsg()
		if err != nil {
			return rows, err
		}
		switch typ {
		case 'R': // Authentication*: 0 is AuthenticationOk
			if len(body) < 4 {
				return rows, fmt.Errorf("short authentication message")
			}
			if m := binary.BigEndian.Uint32(body); m != 0 {
				return rows, fmt.Errorf("server asks for authentication (method %d); pgembed needs trust authentication in pg_hba.conf", m)
			}
		case 'E':
			e := parseError(body)
			if startup {
				return rows, e
			}
			if first == nil {
				first = e
			}
		case 'D':
			rows++
		case 'Z':
			return rows, first
		}
		// Others (ParameterStatus, BackendKeyData, notices, row
		// descriptions, command completions) carry nothing we need.
	}
}

func (c *wireConn) readMsg() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n < 4 || n > 1<<20 {
		return 0, nil, fmt.Errorf("bad message length %d for type %q", n, hdr[0])
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return 0, nil, err
	}
	return hdr[0], body, nil
}

// parseError decodes ErrorResponse fields: a type byte, a NUL-terminated
// string, repeated, then a NUL.
func parseError(body []byte) *pgError {
	e := &pgError{}
	for len(body) > 1 {
		typ := body[0]
		v, rest, _ := bytes.Cut(body[1:], []byte{0})
		switch typ {
		case 'S':
			e.Severity = string(v)
		case 'C':
			e.Code = string(v)
		case 'M':
			e.Message = string(v)
		}
		body = rest
	}
	return e
}

// quoteIdent and quoteLiteral follow PostgreSQL's rules (doubling the
// quote; standard_conforming_strings is on since 9.1).
func quoteIdent(s string) string   { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }
