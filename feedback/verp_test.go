package feedback

import (
	"errors"
	"strings"
	"testing"
)

func TestVERP_RoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		msgID string
		idx   uint32
	}{
		{"spool ID, first recipient", "01JBC7X2Q9M4TZ8K", 0},
		{"spool ID, large index", "01JBC7X2Q9M4TZ8K", 4294967295},
		{"ID with dots and underscores", "a.b_c=d+e", 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, err := EncodeVERP(testVERPKey, "bounces.example.com", tt.msgID, tt.idx)
			if err != nil {
				t.Fatal(err)
			}
			local, _, _ := strings.Cut(addr, "@")
			if !strings.HasPrefix(addr, "b-"+tt.msgID+"-") || len(local) > 64 {
				t.Errorf("address %q: wrong shape or local part over 64 octets", addr)
			}
			id, idx, ok := DecodeVERP("<"+addr+">", testVERPKey)
			if !ok || id != tt.msgID || idx != tt.idx {
				t.Errorf("DecodeVERP(%q) = %q, %d, %v", addr, id, idx, ok)
			}
		})
	}
}

func TestVERP_RelayFoldedCase_StillVerifies(t *testing.T) {
	addr, _ := EncodeVERP(testVERPKey, "bounces.example.com", "01JBC7X2Q9M4TZ8K", 3)
	id, idx, ok := DecodeVERP(strings.ToLower(addr), testVERPKey)
	if !ok || !strings.EqualFold(id, "01JBC7X2Q9M4TZ8K") || idx != 3 {
		t.Errorf("lower-cased address: %q %d %v", id, idx, ok)
	}
	if _, _, ok := DecodeVERP(strings.ToUpper(addr), testVERPKey); !ok {
		t.Error("upper-cased address rejected")
	}
}

func TestVERP_ForgedOrForeign_Rejected(t *testing.T) {
	good, _ := EncodeVERP(testVERPKey, "bounces.example.com", "01JBC7X2Q9M4TZ8K", 3)
	local, domain, _ := strings.Cut(good, "@")
	mac := local[strings.LastIndexByte(local, '-')+1:]
	tests := []struct{ name, addr string }{
		{"other recipient index, same MAC", "b-01JBC7X2Q9M4TZ8K-4-" + mac + "@" + domain},
		{"other message, same MAC", "b-01JBC7X2Q9M4TZ8L-3-" + mac + "@" + domain},
		{"MAC flipped", "b-01JBC7X2Q9M4TZ8K-3-aaaaaaaa@" + domain},
		{"no MAC", "b-01JBC7X2Q9M4TZ8K-3@" + domain},
		{"leading zero index", "b-01JBC7X2Q9M4TZ8K-03-" + mac + "@" + domain},
		{"index overflows uint32", "b-01JBC7X2Q9M4TZ8K-4294967296-" + mac + "@" + domain},
		{"not VERP at all", "newsletter@example.com"},
		{"no domain", "b-01JBC7X2Q9M4TZ8K-3-" + mac},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if id, idx, ok := DecodeVERP(tt.addr, testVERPKey); ok {
				t.Errorf("DecodeVERP(%q) accepted: %q %d", tt.addr, id, idx)
			}
		})
	}
	if _, _, ok := DecodeVERP(good, []byte("another key")); ok {
		t.Error("address accepted under another key")
	}
}

func TestEncodeVERP_BadMsgID(t *testing.T) {
	for _, id := range []string{"", "a@b", "a b", "a-b", strings.Repeat("x", 41)} {
		if _, err := EncodeVERP(testVERPKey, "b.test", id, 0); !errors.Is(err, ErrVERPMsgID) {
			t.Errorf("EncodeVERP(%q) err = %v, want ErrVERPMsgID", id, err)
		}
	}
}
