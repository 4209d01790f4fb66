package main

import (
	"reflect"
	"testing"
)

func TestParseWorkerCapacityAndLabels(t *testing.T) {
	t.Parallel()
	c, err := parseCapacity("memory=8GiB,cpus=4")
	if err != nil || c.MemoryBytes != 8<<30 || c.CPUs != 4 || c.Slots != 8 {
		t.Fatalf("capacity = %+v, %v", c, err)
	}
	c, err = parseCapacity("cpus=0.5,slots=3,memory=512MiB")
	if err != nil || c.MemoryBytes != 512<<20 || c.CPUs != 0.5 || c.Slots != 3 {
		t.Fatalf("capacity = %+v, %v", c, err)
	}
	for _, bad := range []string{"memory", "memory=lots", "cpus=-1", "slots=0", "gpus=1"} {
		if _, err := parseCapacity(bad); err == nil {
			t.Errorf("parseCapacity(%q) accepted", bad)
		}
	}
	l, err := parseLabels("zone=eu-1,gpu=a100")
	if err != nil || !reflect.DeepEqual(l, map[string]string{"zone": "eu-1", "gpu": "a100"}) {
		t.Fatalf("labels = %v, %v", l, err)
	}
	if _, err := parseLabels("zone"); err == nil {
		t.Error("label without = accepted")
	}
}
