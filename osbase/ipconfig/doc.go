// Package ipconfig parses and checks the static IP configuration of one network link as a
// person writes it: the link's hardware address, its addresses with prefix length, default
// gateways and nameservers. Checks go beyond syntax: a gateway must be reachable on the link,
// an address must not be its subnet's network or broadcast address. It also checks the rest of
// a node's network (ParseExtra): the uplink's MTU, VLAN links on it and static routes.
//
// It is pure and builds on every platform, so that the one validator serves both sides: the
// API checks node parameters with it (api/v1, which metroctl runs on an operator's laptop)
// and the node applies what it returns (osbase/netconfig). A node can therefore never refuse
// parameters that the API accepted. It owns no links and knows nothing of the API's messages;
// api/v1 adapts its NetworkConfig and NodeNetwork to Text and ExtraText.
package ipconfig
