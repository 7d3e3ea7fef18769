// Package api is hepvault's HTTP side (echo): the packet listing, the call
// flow, statistics, SIPREC recordings, the sealed days' statements
// (GET /api/v1/seals), coverage, the access log, legal holds, health and
// metrics. It reads through the small Store and Audit interfaces and never
// imports the collector. Named tokens with roles (tokens.go) guard the
// routes, and every request that returns packets, calls, exports or holds
// is handed to an AccessLog, off the request path (access.go).
//
// GET /api/v1/openapi.json serves openapi.json, the OpenAPI 3 description
// of every route, embedded; a route is described there and only there, and
// openapi_test.go holds it to the routes served and their real answers.
//
// It also serves the web page, at / with its assets under /ui/ (web.go):
// static files embedded from web/, plain JavaScript that asks the API above
// for everything it shows, as any other client does.
//
// # Packet listing parameters
//
// GET /api/v1/packets takes these query parameters (parseFilter reads them);
// every filter given must hold, and a list holds when any of its values does:
//
//	from, to        the window: capture time, from inclusive, to exclusive
//	                (RFC 3339 with a zone, unix seconds, or date(1) output)
//	limit           1 to MaxLimit packets, DefaultLimit when not given
//	cursor          the "next" of a previous answer: the page after it
//	format          json (the default) or text
//	kind            list of request, response, invalid
//	method          list of request methods, upper-cased (invite is INVITE)
//	status          list of status codes, 100 to 699
//	status_class    list of status classes, 1xx to 6xx, in any case
//	src_ip, dst_ip  list of IPv4 or IPv6 addresses (an IPv4-mapped IPv6
//	                address is its IPv4 address)
//	ip              list of addresses, each matching source or destination
//	capture_id      list of HEP capture agent ids, 0 to 4294967295
//	call_id         the Call-ID, as one value (a comma is part of it)
//	correlation_id  a correlation, as one value: the HEP correlation id
//	                (chunk 0x0011) or the correlating header (X-CID,
//	                X-Call-ID, --correlation-header) of a packet
//	from_user       user part of the From URI
//	to_user         user part of the To URI
//	ruri_user       user part of the Request-URI
//	user            user part of any of the From, To, Request-URI and
//	                P-Asserted-Identity URIs; for all four users a telephone
//	                number matches with or without its '+' and separators
//	                (hepvault.UserKey)
//	text            a substring of the raw message; found by reading every
//	                message of the window, so it needs from and to at most
//	                hepvault.MaxTextWindow (24h) apart
//
// A list is one comma-separated value (method=INVITE,BYE; status=486,487) of
// at most MaxListValues values; spaces around a value are ignored, an empty
// value (INVITE,,BYE or a trailing comma) is refused. Free-text values (the
// methods, call_id, correlation_id, the users, text) must be UTF-8 without
// NUL bytes. Each parameter may be given once, and an unknown one is refused:
// a typo must not silently widen a query. A refusal is 400 with
// {"error": "..."} naming the parameter and the value it did not take.
//
// # Calls listing parameters
//
// GET /api/v1/calls lists the calls (Call-IDs) whose first request lies in
// [from, to), in start order, as {"calls": [callflow.Call, ...], "next":
// cursor or absent}. It takes (parseCallFilter reads them):
//
//	from, to, cursor  as for packets
//	limit             1 to store.MaxCallsLimit calls, DefaultLimit when not given
//	user, from_user, to_user, ruri_user, ip, method, capture_id
//	                  as for packets, applied to the call's first request
//	state             list of callflow states (answered, busy, ...)
//	status            list of final status codes, 100 to 699
//
// Lists, repeats and unknown parameters are treated as for packets. Each
// call's legs are the Call-IDs correlated with it (store/legs.go).
//
// GET /api/v1/calls/{call_id} answers {"packets": [...], "legs": [...]}:
// the call's packets and its legs; legs=true gives the packets of every
// leg, in capture order; format as for packets.
//
// # Statistics parameters
//
// GET /api/v1/stats takes four, all required (parseStatsQuery):
//
//	from, to  the window, widened to whole steps in UTC (from down, to up)
//	step      1m, 5m, 1h or 1d; at most MaxStatsPoints steps in the window
//	by        method (requests), status (responses, by code), status_class
//	          (responses), kind, capture_id or pair
//
// The answer is {"series": [{"key": "INVITE", "points": [{"t": RFC 3339,
// "count": N}, ...]}, ...]}: a series per key, most frequent first, a point
// per step, 0 when nothing was counted.
//
// # Coverage, access log and holds
//
// GET /api/v1/coverage takes from and to (required, at most
// MaxCoverageWindow apart) and gap (a duration from 1s to 24h, DefaultGap
// when not given) and answers store.Coverage as JSON.
//
// GET /api/v1/access-log (admin) takes from and to (required), token (a
// token's name) and limit (1 to MaxAccessLogLimit, 1000 when not given):
// {"entries": [store.AccessEntry, ...]}, oldest first.
//
// POST /api/v1/holds (admin) takes a JSON body {"call_id" or "filter",
// "reason", "from", "to"}: filter is a query string of the packet listing
// (method=INVITE&user=alice, from and to may be in it); a Call-ID's window
// may be left out and is then its stored packets'. GET /api/v1/holds
// [?all=true] lists the holds in force (or all), DELETE /api/v1/holds/{id}
// ends one. Each answers the hold(s) as store.Hold.
// # Recordings (SIPREC)
//
// GET /api/v1/recordings lists the recording sessions (RFC 7866) whose first
// request lies in [from, to), in start order, as {"recordings": [{"call_id"
// (the recording dialog's own), "session_id" (the metadata's communication
// session), "recorded_call_ids", "linked_by" (call_id, session_id,
// participants or null), "participants": [{"aor", "name"}], "streams":
// [{"stream_id", "label"}], "started_at", "ended_at", "state" (recording,
// ended, or the dialog's state when not answered), "metadata_errors"}],
// "next"}. It takes from and to (required), user (a participant's AOR
// user), limit (1 to store.MaxRecordingsLimit) and cursor.
//
// GET /api/v1/recordings/gaps takes from and to (required, at most
// MaxRecordingsWindow apart) and answers {"gaps": [{"call_id", "reason"
// (unrecorded, recording_failed, ended_early), "started_at", "answered_at",
// "ended_at", "from_user", "to_user", "recording_call_ids",
// "recording_ended_at"}]}: the answered INVITE calls of the window with no
// recording, or whose recording ended more than store.GapTolerance before
// them.
package api
