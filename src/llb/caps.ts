/**
 * Capability ids of BuildKit's LLB (`solver/pb/caps.go`) that brewkit's ops may
 * declare in `OpMetadata.caps`. The daemon refuses ops whose caps it does not know.
 */
export const Cap = {
  sourceImage: "source.image",
  sourceImageResolveMode: "source.image.resolvemode",
  sourceLocal: "source.local",
  sourceLocalUnique: "source.local.unique",
  sourceLocalSessionId: "source.local.sessionid",
  sourceLocalIncludePatterns: "source.local.includepatterns",
  sourceLocalFollowPaths: "source.local.followpaths",
  sourceLocalExcludePatterns: "source.local.excludepatterns",
  sourceLocalSharedKeyHint: "source.local.sharedkeyhint",
  sourceLocalDiffer: "source.local.differ",
  sourceHttp: "source.http",
  sourceHttpChecksum: "source.http.checksum",
  sourceHttpPerm: "source.http.perm",
  // Misspelt upstream; the daemon only knows this spelling.
  sourceHttpUidGid: "soruce.http.uidgid",
  execMetaBase: "exec.meta.base",
  execMetaNetwork: "exec.meta.network",
  execMetaSecurity: "exec.meta.security",
  execMountBind: "exec.mount.bind",
  execMountCache: "exec.mount.cache",
  execMountCacheSharing: "exec.mount.cache.sharing",
  execMountSelector: "exec.mount.selector",
  execMountTmpfs: "exec.mount.tmpfs",
  execMountTmpfsSize: "exec.mount.tmpfs.size",
  execMountSecret: "exec.mount.secret",
  execMountSsh: "exec.mount.ssh",
  execSecretEnv: "exec.secretenv",
  execValidExitCode: "exec.validexitcode",
  fileBase: "file.base",
  constraints: "constraints",
  platform: "platform",
  metaIgnoreCache: "meta.ignorecache",
  metaDescription: "meta.description",
} as const;

/** One of the capability ids above. */
export type CapId = (typeof Cap)[keyof typeof Cap];
