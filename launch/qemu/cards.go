package qemu

import (
	"context"
	"fmt"
	"strconv"
)

// SetCardLink connects (up) or disconnects node i's network card k (counting from 1) as a
// cable plugged in or pulled would: the guest sees the card's link come or go (QMP set_link on
// the card's netdev, which QEMU passes on to the card), so a bond moves to its other cards. The
// VM must be running; a restarted VM's cards are connected again.
func (c *Cluster) SetCardLink(ctx context.Context, i, k int, up bool) error {
	if _, err := c.node(i); err != nil {
		return err
	}
	if k < 1 || k > c.cards() {
		return fmt.Errorf("node %d has no network card %d (it has %d)", i, k, c.cards())
	}
	args := map[string]any{"name": "net" + strconv.Itoa(k-1), "up": up}
	if err := qmpExecuteWith(ctx, c.path(i, "qmp.sock"), "set_link", args); err != nil {
		return fmt.Errorf("node %d, card %d: %w", i, k, err)
	}
	return nil
}
