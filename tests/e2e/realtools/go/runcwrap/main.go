// Command runc-nosysres is an OCI runtime that is runc, minus two things this CI machine's
// kernel refuses even to root:
//
//   - CAP_SYS_RESOURCE: the machine's capability bounding set lacks it, so runc's
//     "apply caps" fails for every container asking for all capabilities (`docker run
//     --privileged`: minikube's and kind's node containers, kube-proxy inside them);
//   - a negative oom_score_adj (kubelet's sandboxes, dockerd's and containerd's own).
//
// It rewrites the bundle's config.json (create, run) or the exec process file (exec) without
// those, then execs the real runc with the same arguments. Nothing else changes. Registered
// with dockerd as a runtime (--add-runtime runc-nosysres=PATH --default-runtime runc-nosysres)
// and, inside the node images, as their dockerd's and containerd's runc. For this machine only:
// on a laptop the nodes run on plain runc.
//
// The real runc: $RUNC_NOSYSRES_REAL, else the first of /usr/sbin/runc, /usr/bin/runc,
// /usr/local/bin/runc, /usr/local/sbin/runc that is not this program.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const dropped = "CAP_SYS_RESOURCE"

func main() {
	real, err := realRunc()
	if err != nil {
		fail(err)
	}
	if file := specFile(os.Args[1:]); file != "" {
		if err := rewrite(file); err != nil {
			fail(fmt.Errorf("%s: %w", file, err))
		}
	}
	argv := append([]string{"runc"}, os.Args[1:]...)
	fail(syscall.Exec(real, argv, os.Environ()))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "runc-nosysres: %v\n", err)
	os.Exit(1)
}

func realRunc() (string, error) {
	self, _ := os.Executable()
	self, _ = filepath.EvalSymlinks(self)
	candidates := []string{"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/bin/runc", "/usr/local/sbin/runc"}
	if env := os.Getenv("RUNC_NOSYSRES_REAL"); env != "" {
		candidates = []string{env}
	}
	for _, c := range candidates {
		resolved, err := filepath.EvalSymlinks(c)
		if err == nil && resolved != self {
			return c, nil
		}
	}
	return "", fmt.Errorf("no real runc among %v (set RUNC_NOSYSRES_REAL)", candidates)
}

// Global flags that take a value, before the subcommand (runc's main.go).
var globalWithValue = map[string]bool{"--root": true, "--log": true, "--log-format": true,
	"--criu": true, "--rootless": true}

// specFile names the JSON to rewrite: the bundle's config.json for create/run, the process
// file for exec; "" for every other subcommand (or exec with the process in flags).
func specFile(args []string) string {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if globalWithValue[args[i]] {
			i++
		}
		i++
	}
	if i >= len(args) {
		return ""
	}
	command, rest := args[i], args[i+1:]
	switch command {
	case "create", "run":
		bundle := flagValue(rest, "--bundle", "-b")
		if bundle == "" {
			bundle = "."
		}
		return filepath.Join(bundle, "config.json")
	case "exec":
		return flagValue(rest, "--process", "-p")
	}
	return ""
}

func flagValue(args []string, long, short string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		if (a == long || a == short) && i+1 < len(args) {
			return args[i+1]
		}
		if strings.HasPrefix(a, long+"=") {
			return strings.TrimPrefix(a, long+"=")
		}
	}
	return ""
}

// rewrite removes the dropped capability from every set and raises a negative oomScoreAdj to
// 0; the file is left byte for byte when there is nothing to change.
func rewrite(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep 64-bit limits exact
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	process := doc // a process file is the process itself
	if p, ok := doc["process"].(map[string]any); ok {
		process = p
	}
	changed := false
	if caps, ok := process["capabilities"].(map[string]any); ok {
		for set, list := range caps {
			names, ok := list.([]any)
			if !ok {
				continue
			}
			kept := names[:0:0]
			for _, n := range names {
				if n != dropped {
					kept = append(kept, n)
				}
			}
			if len(kept) != len(names) {
				caps[set] = kept
				changed = true
			}
		}
	}
	if n, ok := process["oomScoreAdj"].(json.Number); ok {
		if v, err := n.Int64(); err == nil && v < 0 {
			process["oomScoreAdj"] = json.Number("0")
			changed = true
		}
	}
	if clampRlimits(process) {
		changed = true
	}
	if !changed {
		return nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.nosysres-%d", path, os.Getpid())
	if err := os.WriteFile(tmp, out, info.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// rlimitTypes: the OCI names of the limits syscall knows. Raising a hard limit above the
// caller's needs CAP_SYS_RESOURCE, which this machine lacks: minikube's node dockerd gives every
// container nofile=1048576 (--default-ulimit), so every pod sandbox failed with "error setting
// rlimit type 7: operation not permitted".
var rlimitTypes = map[string]int{
	"RLIMIT_NOFILE": syscall.RLIMIT_NOFILE, "RLIMIT_CORE": syscall.RLIMIT_CORE,
	"RLIMIT_STACK": syscall.RLIMIT_STACK, "RLIMIT_AS": syscall.RLIMIT_AS,
	"RLIMIT_CPU": syscall.RLIMIT_CPU, "RLIMIT_DATA": syscall.RLIMIT_DATA,
	"RLIMIT_FSIZE": syscall.RLIMIT_FSIZE,
}

// clampRlimits lowers each rlimit's hard (and soft) value to this process's own hard limit.
func clampRlimits(process map[string]any) bool {
	limits, ok := process["rlimits"].([]any)
	if !ok {
		return false
	}
	changed := false
	for _, item := range limits {
		limit, ok := item.(map[string]any)
		if !ok {
			continue
		}
		kind, ok := rlimitTypes[fmt.Sprint(limit["type"])]
		if !ok {
			continue
		}
		var own syscall.Rlimit
		if syscall.Getrlimit(kind, &own) != nil {
			continue
		}
		for _, field := range []string{"hard", "soft"} {
			n, ok := limit[field].(json.Number)
			if !ok {
				continue
			}
			if v, err := strconv.ParseUint(n.String(), 10, 64); err == nil && v > own.Max {
				limit[field] = json.Number(fmt.Sprint(own.Max))
				changed = true
			}
		}
	}
	return changed
}
