package collector

import (
	"fmt"
	"net/netip"
	"strings"
)

// AllowList holds the source networks allowed to send HEP. Empty allows
// every source.
type AllowList []netip.Prefix

// ParseAllowList reads "10.0.0.0/8, 192.0.2.7, 2001:db8::/32": networks in
// CIDR notation or single addresses, separated by commas. An empty string
// gives an empty list (everyone allowed).
func ParseAllowList(s string) (AllowList, error) {
	var l AllowList
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("HEP allow list: %q is neither an address nor a network in CIDR notation (10.0.0.0/8)", f)
			}
			a = a.Unmap()
			l = append(l, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("HEP allow list: %q is not a network in CIDR notation (10.0.0.0/8): %v", f, err)
		}
		if p.Addr().Is4In6() {
			// ::ffff:10.0.0.0/104 means 10.0.0.0/8; sources are compared unmapped.
			if p.Bits() < 96 {
				return nil, fmt.Errorf("HEP allow list: %q mixes IPv4-mapped and IPv6 space; write the IPv4 network", f)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		l = append(l, p.Masked())
	}
	return l, nil
}

// Allows reports whether a packet or connection from addr is let in. An
// IPv4 source seen on a dual-stack socket (::ffff:a.b.c.d) matches IPv4
// networks.
func (l AllowList) Allows(addr netip.Addr) bool {
	if len(l) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, p := range l {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// String lists the networks as ParseAllowList reads them.
func (l AllowList) String() string {
	s := make([]string, len(l))
	for i, p := range l {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}
