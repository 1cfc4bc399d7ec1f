// Command oracle marshals a fixed set of LLB graphs with BuildKit's own Go client
// and prints them as JSON, so that brewkit's TypeScript builder can be checked
// against it byte for byte. Every graph here has a twin of the same name in
// test/llb/graphs.ts; the two must describe the same build.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/protobuf/proto"
)

// The marshal defaults every graph uses unless it says otherwise; an explicit
// unique id replaces the random one Go would pick for session-less local sources.
var defaults = []llb.ConstraintsOpt{llb.LinuxAmd64, llb.LocalUniqueID("oracle-unique")}

type graph struct {
	state llb.State
	opts  []llb.ConstraintsOpt
}

type metadata struct {
	IgnoreCache bool              `json:"ignoreCache"`
	Description map[string]string `json:"description,omitempty"`
	Caps        []string          `json:"caps"`
	Bytes       string            `json:"bytes"`
}

type definition struct {
	Def      []string            `json:"def"`
	Digests  []string            `json:"digests"`
	Metadata map[string]metadata `json:"metadata"`
}

type refResult struct {
	Ref   string `json:"ref,omitempty"`
	Error bool   `json:"error,omitempty"`
}

type output struct {
	Graphs map[string]definition `json:"graphs"`
	Refs   map[string]refResult  `json:"refs"`
}

const hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
const hexB = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// Millisecond precision so that a JavaScript Date can express the same instant.
var stamp = time.Unix(1700000000, 123000000)

func args(a ...string) llb.RunOption { return llb.Args(a) }

func imageRefs() llb.State {
	refs := []string{
		"busybox", "alpine:3.20", "library/ubuntu", "docker.io/library/debian:12",
		"index.docker.io/foo/bar", "localhost:5000/team/app:1.0", "localhost/img",
		"ghcr.io/org/app", "registry.example.com:443/a/b/c:tag",
		"alpine@sha256:" + hexA, "alpine:3@sha256:" + hexB,
	}
	fa := llb.Copy(llb.Image(refs[0]), "/bin", "/0")
	for i, r := range refs[1:] {
		fa = fa.Copy(llb.Image(r), "/bin", fmt.Sprintf("/%d", i+1))
	}
	return llb.Scratch().File(fa)
}

func imagePlatform() llb.State {
	arm := llb.Image("alpine", llb.Platform(ocispecs.Platform{OS: "linux", Architecture: "arm64"}))
	raw := llb.Image("alpine", llb.Platform(ocispecs.Platform{OS: "linux", Architecture: "aarch64", Variant: "v8"}))
	a := arm.Run(args("uname", "-m")).Root()
	b := raw.Run(args("uname", "-m")).Root()
	return llb.Scratch().File(llb.Copy(a, "/etc/os-release", "/a").Copy(b, "/etc/os-release", "/b"))
}

func imageOptions() llb.State {
	pull := llb.Image("alpine", llb.ResolveModeForcePull, llb.WithCustomName("pull alpine"))
	local := llb.Image("busybox", llb.ResolveModePreferLocal)
	def := llb.Image("debian", llb.ResolveModeDefault)
	fresh := llb.Image("golang:1.26", llb.WithCustomName("go"), llb.IgnoreCache)
	return llb.Scratch().File(llb.Copy(pull, "/", "/1").Copy(local, "/", "/2").Copy(def, "/", "/3").Copy(fresh, "/", "/4"))
}

func localDefault() llb.State {
	return llb.Local("context")
}

func localOptions() llb.State {
	full := llb.Local("src",
		llb.SessionID("sess-1"),
		llb.SharedKeyHint("hint"),
		llb.IncludePatterns([]string{"src/**", "go.mod", "a<b>&c"}),
		llb.ExcludePatterns([]string{"node_modules", "**/*.md", "!keep.md"}),
		llb.FollowPaths([]string{"vendor", "x\ty\"z\\", "ünï\u2028"}),
		llb.Differ(llb.DiffNone, true),
		llb.WithCustomName("load src"),
	)
	own := llb.Local("other", llb.Differ(llb.DiffMetadata, false), llb.LocalUniqueID("vertex-unique"), llb.IncludePatterns([]string{}))
	return llb.Scratch().File(llb.Copy(full, ".", "/src").Copy(own, ".", "/other"))
}

func runBasic() llb.State {
	first := llb.Image("busybox").Dir("/work").AddEnv("A", "1").User("nobody").Run(args("sh", "-c", "echo hi > out"))
	return first.Run(args("/bin/sh", "-c", "ls -l")).Root()
}

func runMeta() llb.State {
	base := llb.Image("alpine").
		AddEnv("PATH", "/usr/bin").AddEnv("A", "1").AddEnv("B", "2").AddEnv("A", "3").AddEnv("UNI", "héllo=wörld").
		Dir("/src").Dir("sub").Dir("../other").
		User("1000:1000").Network(llb.NetModeHost).Security(llb.SecurityModeInsecure).Hostname("builder")
	st := base.Run(args("env"),
		llb.AddEnv("C", "4"), llb.AddEnv("B", "5"), llb.Dir("rel"), llb.User("root"),
		llb.Network(llb.NetModeNone), llb.Hostname("h2"), llb.ValidExitCodes(0, 1, 255),
		llb.IgnoreCache, llb.WithCustomName("meta run"),
	).Root()
	return st.Run(args("true")).Root()
}

func runMountsBind() llb.State {
	src := llb.Local("src")
	es := llb.Image("alpine").Run(args("build"),
		llb.AddMount("/src", src, llb.Readonly),
		llb.AddMount("/tools", llb.Image("golang:1.26"), llb.SourcePath("/usr/local/go"), llb.Readonly),
		llb.AddMount("/out", llb.Scratch()),
		llb.AddMount("/work", llb.Image("busybox"), llb.SourcePath("/bin")),
		llb.AddMount("/discard", llb.Image("busybox"), llb.ForceNoOutput),
	)
	return llb.Scratch().File(
		llb.Copy(es.GetMount("/out"), "/", "/out").
			Copy(es.GetMount("/work"), "/", "/work").
			Copy(es.GetMount("/src"), "/", "/src").
			Copy(es.Root(), "/etc", "/etc"),
	)
}

func runMountsCacheTmpfs() llb.State {
	return llb.Image("alpine").Run(args("make"),
		llb.AddMount("/cache/shared", llb.Scratch(), llb.AsPersistentCacheDir("shared-id", llb.CacheMountShared)),
		llb.AddMount("/cache/private", llb.Scratch(), llb.AsPersistentCacheDir("private-id", llb.CacheMountPrivate)),
		llb.AddMount("/cache/locked", llb.Image("busybox"), llb.AsPersistentCacheDir("locked-id", llb.CacheMountLocked), llb.SourcePath("/etc")),
		llb.AddMount("/cache/ro", llb.Scratch(), llb.AsPersistentCacheDir("ro", llb.CacheMountShared), llb.Readonly),
		llb.AddMount("/var/cache/apt", llb.Scratch(), llb.AsPersistentCacheDir("/var/cache/apt", llb.CacheMountShared)),
		llb.AddMount("/tmp", llb.Scratch(), llb.Tmpfs()),
		llb.AddMount("/tmp2", llb.Scratch(), llb.Tmpfs(llb.TmpfsSize(1<<20))),
	).Root()
}

func runSecretsSSH() llb.State {
	es := llb.Image("alpine").Run(args("sh"),
		llb.AddSecret("/run/secrets/token"),
		llb.AddSecret("/root/.netrc", llb.SecretID("netrc"), llb.SecretFileOpt(1000, 1000, 0o440), llb.SecretOptional),
		llb.AddSecretWithDest("npm", nil, llb.SecretAsEnvName("NPM_TOKEN")),
		llb.AddSecretWithDest("gh", nil, llb.SecretAsEnvName("GH_TOKEN"), llb.SecretOptional),
		llb.AddSSHSocket(),
		llb.AddSSHSocket(llb.SSHID("github"), llb.SSHSocketOpt("/run/gh.sock", 1000, 1000, 0o666), llb.SSHOptional),
		llb.AddSSHSocket(llb.SSHID("third")),
	)
	return es.Root().AddEnv("SSH_AUTH_SOCK", "/custom").Run(args("ssh"), llb.AddSSHSocket()).Root()
}

func runDedupInputs() llb.State {
	dep := llb.Image("busybox")
	twin := llb.Image("busybox")
	return dep.Run(args("x"),
		llb.AddMount("/a", dep, llb.Readonly),
		llb.AddMount("/b", twin, llb.Readonly),
		llb.AddMount("/c", dep),
		llb.AddMount("/d", dep.Dir("/x"), llb.SourcePath("/x")),
	).Root()
}

func mountOutputDownstream() llb.State {
	build := llb.Image("golang").Run(args("go", "build"),
		llb.AddMount("/out", llb.Scratch()),
		llb.AddMount("/bin2", llb.Scratch()),
	)
	test := llb.Image("alpine").Run(args("test"),
		llb.AddMount("/in", build.GetMount("/out"), llb.Readonly),
		llb.AddMount("/bin2", build.GetMount("/bin2")),
		llb.AddMount("/root2", build.Root(), llb.Readonly),
	)
	return test.GetMount("/bin2")
}

func fileMkdirMkfile() llb.State {
	return llb.Image("alpine").Dir("/app").File(
		llb.Mkdir("data", 0o755, llb.WithParents(true), llb.WithUser("app:staff"), llb.WithCreatedTime(stamp)).
			Mkdir("/abs/dir", 0o4755).
			Mkfile("data/config.json", 0o644, []byte(`{"a":1}`), llb.WithUser("1000:1000")).
			Mkfile("/empty", 0o600, nil, llb.WithUIDGID(0, 0)).
			Mkfile("root-owned", 0o644, []byte("x"), llb.WithUser("root")).
			Mkfile("named", 0o644, []byte("y"), llb.WithUser("daemon")).
			Mkdir("./nested/../flat/", 0o755).
			Mkfile("weird", 0o644, []byte("z"), llb.WithUser(":5")).
			Mkfile("range", 0o644, []byte("r"), llb.WithUser("4294967295:-1")).
			Mkfile("big-ts", 0o644, []byte("t"), llb.WithCreatedTime(time.Unix(0, 1700000000123456789))),
		llb.WithCustomName("files"),
	)
}

func fileRmSymlink() llb.State {
	return llb.Image("alpine").Dir("/var").File(
		llb.Rm("log/*.log", llb.WithAllowWildcard(true), llb.WithAllowNotFound(true)).
			Rm("/etc/motd").
			Symlink("../usr/bin/env", "bin/env2", llb.WithUIDGID(1, 2), llb.WithCreatedTime(stamp)).
			Symlink("/target", "/link"),
	)
}

func fileCopyOptions() llb.State {
	src := llb.Local("src").Dir("/project")
	return llb.Image("alpine").Dir("/app").File(
		llb.Copy(src, "go.mod", "./", &llb.CopyInfo{CreateDestPath: true}).
			Copy(src, "/abs/./x/../y", "dest/", &llb.CopyInfo{FollowSymlinks: true, CopyDirContentsOnly: true}).
			Copy(src, "*.go", "/app/cmd/.", &llb.CopyInfo{AllowWildcard: true, AllowEmptyWildcard: true}).
			Copy(src, "dir", "out", &llb.CopyInfo{IncludePatterns: []string{"**/*.go"}, ExcludePatterns: []string{"*_test.go"}, RequiredPaths: []string{"main.go"}}, llb.WithExcludePatterns([]string{"vendor"})).
			Copy(src, "archive.tar", "/", &llb.CopyInfo{AttemptUnpack: true, AlwaysReplaceExistingDestPaths: true}).
			Copy(src, "bin", "/usr/local/bin", llb.ChmodOpt{Mode: 0o755}, llb.WithUser("app"), llb.WithCreatedTime(stamp)).
			Copy(src, "script", "/s", llb.ChmodOpt{ModeStr: "u+x"}).
			Copy(src, "zero", "/z", llb.ChmodOpt{Mode: 0}).
			Copy(llb.Scratch(), "/", "/empty"),
		llb.WithCustomName("copy everything"),
	)
}

func fileChainMultiInput() llb.State {
	a := llb.Image("alpine")
	b := llb.Image("busybox")
	l := llb.Local("ctx")
	st := llb.Image("debian").Dir("/root").File(
		llb.Copy(a, "/etc/os-release", "/a").Copy(b, "/bin/sh", "/b").Copy(a, "/etc/hostname", "/a2").Copy(l, ".", "/ctx"),
	)
	prep := llb.Mkdir("/tmpdir", 0o755).Mkfile("/tmpdir/f", 0o644, []byte("hi"))
	return st.File(
		llb.Copy(prep.WithState(llb.Scratch().Dir("/ced")), "tmpdir", "/from-prep").
			Mkdir("after", 0o700).
			Copy(llb.Mkdir("/x", 0o755).WithState(b), "/x", "/x2"),
	)
}

func readonlyRootfs() llb.State {
	es := llb.Image("alpine").Run(args("cat"), llb.ReadonlyRootFS(), llb.AddMount("/out", llb.Scratch()))
	return es.GetMount("/out")
}

func httpSource() llb.State {
	h := llb.HTTP("https://example.com/tool.tar.gz",
		llb.Checksum(digest.Digest("sha256:"+hexB)), llb.Filename("tool.tgz"), llb.Chmod(0o755), llb.Chown(1000, 1001),
		llb.WithCustomName("download"),
	)
	plain := llb.HTTP("https://example.com/plain")
	return llb.Scratch().File(llb.Copy(h, "tool.tgz", "/t").Copy(plain, "plain", "/p"))
}

func marshalOptions() llb.State {
	st := llb.Image("alpine").Run(args("ls"), llb.AddMount("/ctx", llb.Local("x"), llb.Readonly)).Root()
	return st
}

func diamond() llb.State {
	base := llb.Image("alpine")
	left := base.Run(args("left")).Root()
	right := base.Run(args("right")).Root()
	merged := left.Run(args("merge"), llb.AddMount("/right", right, llb.Readonly), llb.AddMount("/base", base, llb.Readonly)).Root()
	return llb.Scratch().File(llb.Copy(merged, "/", "/m").Copy(right, "/", "/r"))
}

func customNamesMerged() llb.State {
	a := llb.Image("alpine", llb.WithCustomName("first"))
	b := llb.Image("alpine", llb.WithCustomName("second"), llb.WithDescription(map[string]string{"extra": "x"}))
	return llb.Scratch().File(llb.Copy(a, "/a", "/a").Copy(b, "/b", "/b"))
}

func platformState() llb.State {
	arm := llb.Image("alpine").Platform(ocispecs.Platform{OS: "linux", Architecture: "arm"}).Run(args("x")).Root()
	arm64 := llb.Scratch().Platform(ocispecs.Platform{OS: "Linux", Architecture: "x86_64"}).File(llb.Mkdir("/x", 0o755)).Run(args("y")).Root()
	return llb.Scratch().File(llb.Copy(arm, "/", "/arm").Copy(arm64, "/", "/amd"))
}

func scratchFile() llb.State {
	return llb.Scratch().File(llb.Mkfile("/hello", 0o644, []byte("hello\n")), llb.WithCustomName("hello"))
}

func execChain() llb.State {
	return llb.Image("alpine").Dir("/a").AddEnv("X", "1").
		Run(args("one")).
		Dir("b").AddEnv("X", "2").AddEnv("Y", "3").
		Run(args("two"), llb.WithCustomName("second")).
		Root()
}

func graphs() map[string]graph {
	g := func(s llb.State, opts ...llb.ConstraintsOpt) graph { return graph{state: s, opts: opts} }
	return map[string]graph{
		"image-refs":              g(imageRefs()),
		"image-platform":          g(imagePlatform()),
		"image-options":           g(imageOptions()),
		"local-default":           g(localDefault()),
		"local-options":           g(localOptions()),
		"run-basic":               g(runBasic()),
		"run-meta":                g(runMeta()),
		"run-mounts-bind":         g(runMountsBind()),
		"run-mounts-cache-tmpfs":  g(runMountsCacheTmpfs()),
		"run-secrets-ssh":         g(runSecretsSSH()),
		"run-dedup-inputs":        g(runDedupInputs()),
		"mount-output-downstream": g(mountOutputDownstream()),
		"file-mkdir-mkfile":       g(fileMkdirMkfile()),
		"file-rm-symlink":         g(fileRmSymlink()),
		"file-copy-options":       g(fileCopyOptions()),
		"file-chain-multi-input":  g(fileChainMultiInput()),
		"readonly-rootfs":         g(readonlyRootfs()),
		"http-source":             g(httpSource()),
		"marshal-options": g(marshalOptions(),
			llb.Platform(ocispecs.Platform{OS: "linux", Architecture: "arm"}), llb.IgnoreCache, llb.LocalUniqueID("other-unique")),
		"diamond":             g(diamond()),
		"custom-names-merged": g(customNamesMerged()),
		"platform-state":      g(platformState()),
		"scratch-file":        g(scratchFile()),
		"exec-chain":          g(execChain()),
		"scratch":             g(llb.Scratch()),
	}
}

// Inputs for reference normalization, good and bad.
var refInputs = []string{
	"busybox", "Busybox", "foo/Bar", "UPPER/x", hexA, "alpine@sha256:abc", "alpine@md5:" + hexA,
	"alpine@sha256:" + strings.ToUpper(hexA), "localhost:5000", "[::1]:5000/img", "example.com/a__b/c-d:v1.2_3",
	"foo:", "foo:bar:baz", "index.docker.io/library/alpine", "docker.io/alpine", ":tag", "", "a/b/c/d/e/f",
	"registry:5000/x", "my.registry/x@sha256:" + hexB, "alpine:" + strings.Repeat("t", 129), "a..b", "a--b/c",
	"localhost/UPPER", "ghcr.io/Org/app",
}

func marshalGraph(g graph) (definition, error) {
	def, err := g.state.Marshal(context.Background(), append(slices.Clone(defaults), g.opts...)...)
	if err != nil {
		return definition{}, err
	}
	out := definition{Def: []string{}, Digests: []string{}, Metadata: map[string]metadata{}}
	for _, dt := range def.Def {
		out.Def = append(out.Def, base64.StdEncoding.EncodeToString(dt))
		out.Digests = append(out.Digests, digest.FromBytes(dt).String())
	}
	for dgst, md := range def.ToPB().Metadata {
		out.Metadata[dgst], err = describe(md)
		if err != nil {
			return definition{}, err
		}
	}
	return out, nil
}

func describe(md *pb.OpMetadata) (metadata, error) {
	dt, err := proto.MarshalOptions{Deterministic: true}.Marshal(md)
	if err != nil {
		return metadata{}, err
	}
	caps := []string{}
	for c := range md.Caps {
		caps = append(caps, c)
	}
	slices.Sort(caps)
	return metadata{IgnoreCache: md.IgnoreCache, Description: md.Description, Caps: caps, Bytes: base64.StdEncoding.EncodeToString(dt)}, nil
}

func main() {
	out := output{Graphs: map[string]definition{}, Refs: map[string]refResult{}}
	for name, g := range graphs() {
		def, err := marshalGraph(g)
		if err != nil {
			fmt.Fprintf(os.Stderr, "graph %s: %v\n", name, err)
			os.Exit(1)
		}
		out.Graphs[name] = def
	}
	for _, in := range refInputs {
		named, err := reference.ParseNormalizedNamed(in)
		if err != nil {
			out.Refs[in] = refResult{Error: true}
			continue
		}
		out.Refs[in] = refResult{Ref: reference.TagNameOnly(named).String()}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
