package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestSpecFileFindsTheBundleOrTheProcessFile(t *testing.T) {
	cases := map[string]string{
		"--root /run/x --log /l --log-format json create --bundle /b id": "/b/config.json",
		"create -b /b id":            "/b/config.json",
		"run --bundle=/b id":         "/b/config.json",
		"--systemd-cgroup create id": "config.json",
		"exec --process /p.json id":  "/p.json",
		"exec -t id sh":              "",
		"start id":                   "",
		"--version":                  "",
	}
	for args, want := range cases {
		if got := specFile(strings.Fields(args)); got != want {
			t.Errorf("%q: got %q, want %q", args, got, want)
		}
	}
}

func TestRewriteDropsTheCapabilityAndANegativeOomScore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	spec := `{"ociVersion":"1.0.2","process":{"oomScoreAdj":-998,"capabilities":{` +
		`"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE"],"effective":["CAP_SYS_RESOURCE"]}},` +
		`"linux":{"resources":{"memory":{"limit":9223372036854771712}}}}`
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(path); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(path)
	got := string(out)
	for _, want := range []string{`"bounding":["CAP_CHOWN"]`, `"effective":[]`, `"oomScoreAdj":0`,
		`9223372036854771712`} {
		if !strings.Contains(got, want) {
			t.Errorf("rewritten spec lacks %s: %s", want, got)
		}
	}
	if strings.Contains(got, "CAP_SYS_RESOURCE") {
		t.Errorf("capability kept: %s", got)
	}
}

func TestRewriteLeavesASpecWithNothingToDropAsItIs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "process.json")
	spec := `{"args":["sh"],  "capabilities":{"bounding":["CAP_CHOWN"]}, "oomScoreAdj": 5}`
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(path); err != nil {
		t.Fatal(err)
	}
	if out, _ := os.ReadFile(path); string(out) != spec {
		t.Errorf("changed: %s", out)
	}
}

func TestRewriteDropsTheCapabilityFromAnExecProcessFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "process.json")
	spec := `{"args":["sh"],"capabilities":{"bounding":["CAP_SYS_RESOURCE","CAP_KILL"]}}`
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(path); err != nil {
		t.Fatal(err)
	}
	if out, _ := os.ReadFile(path); strings.Contains(string(out), "CAP_SYS_RESOURCE") {
		t.Errorf("capability kept: %s", out)
	}
}

func TestRewriteClampsRlimitsAboveThisProcesssHardLimit(t *testing.T) {
	var own syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &own); err != nil {
		t.Fatal(err)
	}
	if own.Max == ^uint64(0) {
		t.Skip("RLIMIT_NOFILE is unlimited here: nothing to clamp")
	}
	path := filepath.Join(t.TempDir(), "config.json")
	// minikube's node dockerd: --default-ulimit=nofile=1048576:1048576 (and a limit it keeps)
	spec := fmt.Sprintf(`{"process":{"rlimits":[`+
		`{"type":"RLIMIT_NOFILE","hard":%d,"soft":%d},`+
		`{"type":"RLIMIT_CORE","hard":0,"soft":0}]}}`, own.Max+1, own.Max+1)
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(path); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(path)
	want := fmt.Sprintf(`{"hard":%d,"soft":%d,"type":"RLIMIT_NOFILE"}`, own.Max, own.Max)
	if !strings.Contains(string(out), want) {
		t.Errorf("nofile not clamped to %d: %s", own.Max, out)
	}
	if !strings.Contains(string(out), `{"hard":0,"soft":0,"type":"RLIMIT_CORE"}`) {
		t.Errorf("a limit within bounds changed: %s", out)
	}
}
