/** What an error code means and how to fix what it reports. */
export interface ErrorCodeInfo {
  /** What went wrong, in a few words. */
  readonly summary: string;
  /** How to fix it, when the error itself has no more precise hint. */
  readonly hint: string;
  /** A call to the daemon's gateway (LLBBridge) failed: the daemon's message says why. */
  readonly gateway?: true;
}

/**
 * Every code a BrewkitError carries, with its meaning and a default hint: one typed
 * registry, so that code can name codes only from it and a test can check each one.
 */
export const errorCodes = {
  // The config and its targets.
  CONFIG_NOT_FOUND: { summary: "no brewkit config file was found", hint: "create one with `brewkit init`, or pass --config <file>" },
  CONFIG_EVAL: { summary: "the config failed to compile or to run", hint: "fix the error in the config file" },
  CONFIG_EXIT: { summary: "the config called process.exit", hint: "a config only declares targets: remove the process.exit call" },
  CONFIG_NEVER_SETTLED: { summary: "the config awaits a promise that never settles", hint: "make every promise the config awaits at the top level resolve or reject" },
  CONFIG_DEFAULT_EXPORT: { summary: "the config's default export is not a target or a group", hint: "export a target or a group, e.g. `export default group(build, test)`" },
  FIELD_TYPE: { summary: "a field of a target has the wrong type", hint: "give the field a value of the type its documentation names" },
  FROM_EMPTY: { summary: "a target has no base", hint: 'set `from` to an image ("debian:bookworm"), another target, or scratch' },
  FROM_INVALID: { summary: "a target's base is not an image, a target or scratch", hint: 'set `from` to an image ("debian:bookworm"), another target, or scratch' },
  NOT_A_TARGET: { summary: "a value used as a target is not one", hint: "pass values made by target() (or groups made by group())" },
  GROUP_MEMBER: { summary: "a member of a group is not a target", hint: "list target values, e.g. group(build, test)" },
  UNKNOWN_TARGET: { summary: "no target of that name", hint: "run `brewkit targets` to list them" },
  NO_DEFAULT_TARGET: { summary: "no target was named and the config has no default", hint: "name a target, or export a default target or group" },
  DEPENDENCY_CYCLE: { summary: "targets depend on each other in a cycle", hint: "remove one of the links (from, dependsOn, copy.from or a variable) in the cycle" },
  VARIABLE_COMMAND: { summary: "a variable has no command", hint: 'give it a command whose output is its value, e.g. variable({ from: base, command: "cat VERSION" })' },
  COMMAND_EMPTY: { summary: "a command is empty", hint: "give the command a program to run" },
  COMMAND_INVALID: { summary: "a command is not a string or a list of strings", hint: 'write a shell string ("make test") or an argv list (["make", "test"])' },
  COMMAND_TWICE: { summary: "a target sets both command and commands", hint: "use `command` for one command, or `commands` for several" },
  ENV_NAME: { summary: "an environment variable has an invalid name", hint: "use a name without `=` or NUL, e.g. GOFLAGS" },
  PLATFORM_INVALID: { summary: "a platform is not os/arch[/variant]", hint: 'use e.g. "linux/amd64" or "linux/arm/v7"' },
  NETWORK_INVALID: { summary: "an unknown network mode", hint: 'use "default", "none" or "host"' },
  COPY_SRC: { summary: "a copy has no valid source", hint: 'give `src` a path, e.g. copy: { src: "src", dest: "/app/src" }' },
  COPY_FROM: { summary: "a copy's `from` is not a target", hint: "copy from a target value, e.g. copy: { from: build, src: \"/out\" }" },
  COPY_SOURCE_MISSING: { summary: "a copied host path does not exist", hint: "create it, or fix the path (host paths are relative to the project)" },
  COPY_SOURCE_DANGLING: { summary: "a copied symlink points nowhere", hint: "fix or remove the symlink" },
  COPY_SOURCE_OUTSIDE: { summary: "a symlink in the project points outside it", hint: "copy the file it points to into the project, or copy that path directly" },
  CACHE_INVALID: { summary: "a cache mount is not valid", hint: 'make cache mounts with cache("id", "/path")' },
  CACHE_ID_PATHS: { summary: "one cache id is mounted at two paths", hint: "use one path per cache id, or give the caches different ids" },
  CACHE_HOSTDIR_OUTSIDE: { summary: "a cache's host folder is outside the project", hint: "use a folder inside the project, e.g. hostDir: \".cache/deps\"" },
  SECRET_ID: { summary: "a secret has an invalid id", hint: "use an id of letters, digits, `.`, `-` and `_`" },
  SECRET_TARGET: { summary: "a secret has no place to go", hint: 'mount it at a path (secret("npm", "/root/.npmrc")) or an env variable (secret("token", { env: "TOKEN" }))' },
  OUTPUT_INVALID: { summary: "an output is not valid", hint: 'e.g. output: { artifact: "/out/app", local: "bin" }' },
  OUTPUT_OUTSIDE_PROJECT: { summary: "an output is outside the project", hint: "write inside the project, or set allowOutsideProject: true on this output" },
  OUTPUT_IS_PROJECT: { summary: "an output is the project directory itself", hint: "write into a folder of the project, e.g. local: \"dist\"" },
  PATH_TILDE: { summary: "a path starts with `~`, which is not expanded", hint: "write the path without `~`, or leave it unquoted so the shell expands it" },
  PATTERN_SYNTAX: { summary: "an ignore or copy pattern is not valid", hint: "fix the pattern (see the .dockerignore syntax)" },
  IMAGE_NAME: { summary: "an image output names no image, or an invalid one", hint: 'use host[:port]/repository[:tag], e.g. "registry.example.com/team/app:1.2"' },
  TARBALL_FORMAT: { summary: "an image archive has no valid format", hint: 'format: "docker" (for `docker load`) or format: "oci"' },
  LABEL_NAME: { summary: "an image label has an empty name", hint: 'name every label, e.g. labels: { "version": "1.2" }' },
  EXPOSE_INVALID: { summary: "an exposed port is not a port", hint: 'e.g. expose: [8080, "53/udp"]' },
  PLATFORM_TWICE: { summary: "a target lists one platform twice", hint: "list each platform once" },
  PLATFORMS_ARTIFACT: { summary: "a target built for several platforms copies an artifact to the host", hint: "export images (or oci archives) from it, or build it for one platform" },
  PLATFORMS_DOCKER_ARCHIVE: { summary: "a docker archive of a target built for several platforms", hint: 'use format: "oci", or build the target for one platform' },
  PLATFORMS_CACHE_HOSTDIR: { summary: "a target built for several platforms mirrors a cache to the host", hint: "drop hostDir from the cache, or build the target for one platform" },
  CONFIG_BUILD_CACHE_TWICE: { summary: "the config exports two buildCache() settings", hint: "export one buildCache({ to, from }) per project" },

  // Flags and commands of the CLI.
  UNKNOWN_TEMPLATE: { summary: "no template of that name", hint: "run `brewkit init` with one of the templates it lists" },
  INIT_WOULD_OVERWRITE: { summary: "init would overwrite files", hint: "run `brewkit init` in an empty directory, or pass --dir" },
  UNKNOWN_CACHE_ACTION: { summary: "an unknown cache action", hint: "use `brewkit cache du`, `prune`, `export` or `import`" },
  CACHE_ARGS: { summary: "a cache action lacks its arguments", hint: "e.g. brewkit cache export go-mod .cache/go-mod" },
  CACHE_IMPORT_DIR: { summary: "the folder to import a cache from does not exist", hint: "import from an existing folder" },
  UNKNOWN_DAEMON_ACTION: { summary: "an unknown daemon action", hint: "use one of: install, start, stop, status, logs" },
  PROGRESS_MODE: { summary: "an unknown progress mode", hint: "use one of: auto, tty, plain, rawjson, quiet" },
  CACHE_SPEC_INVALID: { summary: "a --cache-to or --cache-from spec is not valid", hint: "use buildx's syntax, e.g. type=registry,ref=registry.example.com/app:cache,mode=max" },
  GRAPH_FORMAT: { summary: "an unknown graph format", hint: "use --format text or --format mermaid" },
  DEFINITION_FORMAT: { summary: "an unknown definition format", hint: "use --format json or --format pb" },
  SHELL_NEEDS_TTY: { summary: "a shell was asked for without a terminal", hint: "run it from an interactive terminal (not a pipe, a file or CI), or leave the option out" },
  SHELL_INVALID: { summary: "--shell names no shell", hint: "name a shell, e.g. --shell /bin/bash" },
  SECRET_FLAG_INVALID: { summary: "a --secret flag is not valid", hint: "use --secret id=NAME,env=VARIABLE or --secret id=NAME,src=FILE" },
  SECRET_FLAG_DUPLICATE: { summary: "two --secret flags name the same id", hint: "keep one --secret per id" },
  SSH_FLAG_INVALID: { summary: "an --ssh flag is not valid", hint: "use --ssh default or --ssh ID=/path/to/agent.sock" },
  ADDR_INVALID: { summary: "the daemon address is not valid", hint: "use unix:///path/to/buildkitd.sock or tcp://host:port" },
  ADDR_SCHEME: { summary: "the daemon address has an unsupported scheme", hint: "use unix:///path/to/buildkitd.sock or tcp://host:port" },
  TLS_FILE: { summary: "a TLS file cannot be read or is not PEM", hint: "check the --tlscacert, --tlscert and --tlskey paths" },
  TLS_INCOMPLETE: { summary: "a client certificate without its key, or a key without its certificate", hint: "pass both --tlscert and --tlskey, or neither" },
  TLS_KEY_MISMATCH: { summary: "the client key does not belong to the client certificate", hint: "pass the key that belongs to the certificate" },

  // Secrets and the user's config file.
  SECRETS_MISSING: { summary: "secrets the targets mount have no value", hint: "provide each with --secret or in ~/.brewkit/config.json" },
  SECRET_UNREADABLE: { summary: "a secret's file cannot be read", hint: "check the path and its permissions" },
  SECRET_TOO_LARGE: { summary: "a secret is too large", hint: "secrets are for tokens and keys; mount larger files with copy or a cache" },
  USER_CONFIG_UNREADABLE: { summary: "~/.brewkit/config.json cannot be read", hint: "fix the file's permissions, or remove it" },
  USER_CONFIG_INVALID: { summary: "~/.brewkit/config.json is not valid", hint: 'e.g. { "secrets": { "npm": { "file": "~/.npmrc" } } }' },
  SSH_AGENT_MISSING: { summary: "no SSH agent to forward", hint: 'start an agent (eval "$(ssh-agent)" && ssh-add) or pass --ssh ID=/path/to/agent.sock' },
  REGISTRY_PASSWORD_MISSING: { summary: "a registry's password cannot be read", hint: "set the environment variable, or fix the file, that brewkit's config names for it" },
  DOCKER_CONFIG_UNREADABLE: { summary: "Docker's config file cannot be read", hint: "fix the file's permissions, or point DOCKER_CONFIG at another directory" },
  DOCKER_CONFIG_INVALID: { summary: "Docker's config file is not valid", hint: "fix the file, or log in again with `docker login`" },
  CREDENTIAL_HELPER_FAILED: { summary: "a Docker credential helper failed", hint: "check that the helper is installed and logged in (`docker login`)" },

  // The daemon.
  DAEMON_UNREACHABLE: { summary: "the daemon cannot be reached", hint: "check that buildkitd runs and --addr / BUILDKIT_HOST points at it" },
  DAEMON_PROTOCOL: { summary: "the daemon answered with something brewkit cannot read", hint: "check that --addr / BUILDKIT_HOST points at a BuildKit daemon" },
  DAEMON_ERROR: { summary: "the daemon reported an error", hint: "run again with --debug to see the daemon's stack" },
  DAEMON_NOT_INSTALLED: { summary: "brewkit's daemon is not installed", hint: "run `brewkit daemon install`" },
  DAEMON_START_FAILED: { summary: "brewkit's daemon did not start", hint: "see `brewkit daemon logs`" },
  DAEMON_START_TIMEOUT: { summary: "brewkit's daemon did not answer in time", hint: "see `brewkit daemon logs`; `brewkit daemon stop` stops it" },
  DAEMON_LOCKED: { summary: "another brewkit is starting the daemon", hint: "wait for it to finish and try again" },
  DAEMON_NOT_PRIVATE: { summary: "brewkit's daemon could be reached by other users", hint: "fix the owner and modes of its socket and directories, or `brewkit daemon stop` and start it again" },
  ROOTLESS_NOT_READY: { summary: "this machine is not ready for a rootless daemon", hint: "run the commands the error lists, then try again" },
  DAEMON_LOCK_NAME: { summary: "the daemon's lock is in the way", hint: "remove the lock file the message names" },
  DAEMON_HOST_NETWORK: { summary: "the daemon runs steps on the host's network", hint: "restart it: `brewkit daemon stop`, then run again" },
  SOCKET_PATH_TOO_LONG: { summary: "the daemon's socket path is too long", hint: "set BREWKIT_HOME to a shorter directory" },
  CNI_PLUGINS_MISSING: { summary: "the CNI plugins for the steps' network are missing", hint: "apt-get install containernetworking-plugins" },
  BRIDGE_SUBNET_UNAVAILABLE: { summary: "no free subnet for the daemon's bridge", hint: 'set a free subnet in buildkitd.toml: [worker.oci] bridgeSubnet = "10.123.0.0/24"' },
  INSTALL_FAILED: { summary: "building the pinned BuildKit failed", hint: "see the Go build's output above" },
  GO_MISSING: { summary: "Go is needed to install the daemon", hint: "install Go ≥ 1.26 and run `brewkit daemon install` again" },
  GO_MOD_PIN: { summary: "go.mod does not pin BuildKit", hint: "reinstall brewkit: its go.mod pins github.com/moby/buildkit" },
  ENTITLEMENT_DENIED: { summary: "the daemon does not allow an entitlement a target needs", hint: "start buildkitd with --allow-insecure-entitlement network.host, or remove network: \"host\"" },

  // Builds.
  STEP_FAILED: { summary: "a step of the build failed", hint: "fix the command or its inputs and run again" },
  BUILD_FAILED: { summary: "a build failed", hint: "run again with --debug to see the daemon's stack" },
  CANCELLED: { summary: "the build was cancelled", hint: "run it again" },
  ARTIFACT_MISSING: { summary: "an output's artifact is not in the target's result", hint: "make a command of the target write it there, or fix the path (a relative artifact path is under the target's workdir)" },
  EXPORT_FAILED: { summary: "an output could not be written on this machine", hint: "check the output's folder on this machine: free space, permissions" },
  EXPORT_ENOSPC: { summary: "an output could not be written: the file system is full", hint: "free space on the file system of the output, or write it elsewhere" },
  EXPORT_EDQUOT: { summary: "an output could not be written: the disk quota is used up", hint: "free space within your quota, or write the output elsewhere" },
  EXPORT_ENAMETOOLONG: { summary: "an output could not be written: a name is too long", hint: "use a shorter output directory, or shorter file names in the artifact" },
  EXPORT_EACCES: { summary: "an output could not be written: permission denied", hint: "make the output's folder writable for this user, or write it elsewhere" },
  EXPORT_EPERM: { summary: "an output could not be written: operation not permitted", hint: "make the output's folder writable for this user, or write it elsewhere" },
  EXPORT_EROFS: { summary: "an output could not be written: the file system is read-only", hint: "write the output elsewhere (output.local)" },
  RESULT_FILE_MISSING: { summary: "a file to read from a result is not there", hint: "make the command write it" },
  RESULT_FILE_TOO_LARGE: { summary: "a file read from a result is too large", hint: "keep a variable's output small" },
  RESULT_NOT_A_FILE: { summary: "a path read from a result is not a file", hint: "read a regular file" },
  IMAGE_NOT_FOUND: { summary: "a base image was not found", hint: "check the image name, tag and platform" },
  IMAGE_UNAUTHORIZED: { summary: "the registry refused access to a base image", hint: "check the image name, and that the image is public or the daemon has credentials for the registry" },
  IMAGE_REGISTRY_UNREACHABLE: { summary: "the registry of a base image cannot be reached", hint: "check the network and the registry address; a registry mirror can be configured in buildkitd.toml" },
  IMAGE_RESOLVE_FAILED: { summary: "a base image's config could not be resolved", hint: "check the image reference" },
  REGISTRY_TLS: { summary: "a registry could not be reached securely", hint: "trust the registry's CA in brewkit's config (registries.<host>.ca), or set http: true for a plain-HTTP registry" },
  REGISTRY_UNAUTHORIZED: { summary: "a registry refused the login, or wanted one", hint: "log in to the registry (`docker login`, or registries.<host> in brewkit's config)" },
  REGISTRY_UNREACHABLE: { summary: "a registry could not be reached", hint: "check that the registry runs and that the daemon reaches it" },
  IMAGE_CONFIG_INVALID: { summary: "a base image's config is not valid JSON", hint: "use another image, or rebuild this one" },
  BUSYBOX_MISSING: { summary: "this machine has no static busybox for cache transfers", hint: "install busybox-static, or pass --image or --target" },
  BUSYBOX_UNUSABLE: { summary: "this machine's busybox cannot run on the daemon", hint: "run the copy in an image with sh and cp (--image <ref>) or in a target of the config (--target <name>)" },
  SHELL_FAILED: { summary: "the shell's process stream failed", hint: "run again; see `brewkit daemon logs` if it keeps failing" },

  // The daemon's gateway (LLBBridge).
  GATEWAY_SOLVE_FAILED: { summary: "a solve through the gateway failed", hint: "fix the step the message names", gateway: true },
  GATEWAY_READ_FAILED: { summary: "reading a result through the gateway failed", hint: "check the path, and that the command wrote it", gateway: true },
  GATEWAY_RESOLVE_FAILED: { summary: "resolving an image through the gateway failed", hint: "check the image reference", gateway: true },
  GATEWAY_UNAVAILABLE: { summary: "the daemon's gateway did not answer", hint: "check that the daemon runs", gateway: true },
  GATEWAY_RETURN_FAILED: { summary: "ending a gateway build failed", hint: "run again; see `brewkit daemon logs` if it keeps failing", gateway: true },
  GATEWAY_CONTAINER_FAILED: { summary: "a container of a gateway build could not be made or released", hint: "see `brewkit daemon logs`", gateway: true },
  GATEWAY_UNEXPECTED_RESULT: { summary: "the gateway returned a result brewkit did not ask for", hint: "check that --addr points at a supported BuildKit", gateway: true },
  GATEWAY_NOT_REGISTERED: { summary: "the daemon did not register a gateway build in time", hint: "run again; see `brewkit daemon logs` if it keeps failing", gateway: true },

  // LLB built by code (the library API).
  LLB_INVALID_IMAGE_REF: { summary: "an image reference is not valid", hint: 'use a reference such as "alpine", "alpine:3.20" or "ghcr.io/org/image@sha256:…"' },
  LLB_INVALID_PLATFORM: { summary: "a platform is not valid", hint: "use os/arch or os/arch/variant, e.g. linux/arm64" },
  LLB_INVALID_TIMESTAMP: { summary: "a file timestamp is not valid", hint: "use a Date or nanoseconds since the epoch" },
  LLB_INVALID_RUN: { summary: "a run has no command, or two", hint: "pass exactly one of `args` and `shell`" },

  // File transfers.
  FILESYNC_PROTOCOL: { summary: "the daemon broke the file transfer protocol", hint: "check that --addr points at a supported BuildKit" },
  FILESYNC_UNSAFE_PATH: { summary: "a transferred path would escape its folder", hint: "check what the command writes into the output" },
  FILESYNC_PEER: { summary: "the other side of a file transfer failed", hint: "see the message; `brewkit daemon logs` has the daemon's side" },
  FILESYNC_IO: { summary: "a file transfer could not read or write on this machine", hint: "check the path: free space, permissions" },
  FILESYNC_PATH: { summary: "an export destination cannot be used", hint: "point the output at a directory inside the project" },
  FILESYNC_ABORTED: { summary: "a file transfer was stopped", hint: "run again" },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A code of brewkit's errors. */
export type ErrorCode = keyof typeof errorCodes;

/** True for the codes of failed gateway calls, whose message is the daemon's. */
export function isGatewayFailure(code: ErrorCode): boolean {
  return (errorCodes[code] as ErrorCodeInfo).gateway === true;
}
