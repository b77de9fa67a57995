package curator

import (
	"crypto/rand"
	"sync"
	"time"
)

// joinNonceLifetime is how long a nonce from GetJoinNonce may be answered: a node asks for it
// just before it quotes and joins, which takes seconds even under emulation.
const joinNonceLifetime = 5 * time.Minute

// joinNonces are the nonces the leader handed out for nodes' next JoinNode quotes, one per
// node (a new one replaces the last), each good once. They live in the leader's memory: a node
// whose leader changed in between asks again.
type joinNonces struct {
	mu     sync.Mutex
	nonces map[string]joinNonce
}

type joinNonce struct {
	nonce   []byte
	expires time.Time
}

func newJoinNonces() *joinNonces { return &joinNonces{nonces: map[string]joinNonce{}} }

// issue makes a fresh nonce for node nodeID at now.
func (j *joinNonces) issue(nodeID string, now time.Time) ([]byte, error) {
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for id, n := range j.nonces {
		if now.After(n.expires) {
			delete(j.nonces, id)
		}
	}
	j.nonces[nodeID] = joinNonce{nonce: nonce, expires: now.Add(joinNonceLifetime)}
	return nonce, nil
}

// take returns node nodeID's outstanding nonce and forgets it; nil if there is none or it
// expired.
func (j *joinNonces) take(nodeID string, now time.Time) []byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	n, ok := j.nonces[nodeID]
	delete(j.nonces, nodeID)
	if !ok || now.After(n.expires) {
		return nil
	}
	return n.nonce
}
