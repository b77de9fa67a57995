package layout

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
)

// Slots are the two system slots, A and B. Which one runs is not fixed: the unified kernel
// image names its system by verity root hash, and stage 1 boots whichever slot holds it, so a
// release installed into either slot boots the same way.
var Slots = []string{"A", "B"}

// SlotPartitionName is the GPT name of slot's system partition.
func SlotPartitionName(slot string) string { return "METROPOLIS-SYSTEM-" + slot }

// OtherSlot is the slot that is not slot.
func OtherSlot(slot string) string {
	if slot == "A" {
		return "B"
	}
	return "A"
}

// ESPSlotUKIPath is where a slot's unified kernel image lives on the ESP. The firmware's
// default path (ESPBootPath) holds a copy of the committed slot's; a trial boot starts the
// slot's own through a one-time boot entry.
func ESPSlotUKIPath(slot string) string {
	return "/EFI/metropolis/boot-" + strings.ToLower(slot) + ".efi"
}

// ESPSlotsPath holds the node's record of its slots (apb.NodeSoftware, binary): which is
// committed, what each holds, and how the last trial ended.
const ESPSlotsPath = "/metropolis/slots.pb"

// RootBlockMatches reports whether block, the first block of a partition's hash tree (at
// HashStartBlock), is the one v's root hash names: the root hash of a dm-verity tree (format
// 1) is SHA-256 over the salt and that top-level block. Stage 1 uses it to tell which slot
// holds the system its command line names; dm-verity then checks every block as it is read.
func (v Verity) RootBlockMatches(block []byte) bool {
	if len(block) != VerityBlockSize {
		return false
	}
	h := sha256.New()
	h.Write(v.Salt)
	h.Write(block)
	return bytes.Equal(h.Sum(nil), v.RootHash)
}

// ChooseSlot picks the slot whose hash tree's top block matches v, from each slot's block
// (nil where it could not be read). It fails if none or both match.
func ChooseSlot(v Verity, topBlocks map[string][]byte) (string, error) {
	var found []string
	for _, s := range Slots {
		if v.RootBlockMatches(topBlocks[s]) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("neither system slot holds the system this kernel was built for (root hash %x)", v.RootHash)
	default:
		return "", fmt.Errorf("both system slots hold the system with root hash %x", v.RootHash)
	}
}
