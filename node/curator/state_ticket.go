package curator

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// registerTicketBytes is the register ticket's length: 256 random bits, beyond guessing.
const registerTicketBytes = 32

func newRegisterTicket() ([]byte, error) {
	t := make([]byte, registerTicketBytes)
	if _, err := rand.Read(t); err != nil {
		return nil, fmt.Errorf("generate register ticket: %w", err)
	}
	return t, nil
}

func getRegisterTicket(ctx context.Context, kv clientv3.KV) ([]byte, error) {
	resp, err := kv.Get(ctx, keyRegisterTicket)
	if err != nil {
		return nil, fmt.Errorf("read register ticket from etcd: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return nil, errNotBootstrapped
	}
	return resp.Kvs[0].Value, nil
}

// ticketMatches compares a presented ticket with the cluster's in constant time, so that
// response times do not leak how much of a guess was right.
func ticketMatches(presented, ticket []byte) bool {
	return len(ticket) > 0 && subtle.ConstantTimeCompare(presented, ticket) == 1
}
