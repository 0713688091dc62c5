import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** @type {import('next').NextConfig} */
const nextConfig = {
  // A self-contained server in .next/standalone (server.js + the traced node_modules).
  output: 'standalone',
  // Trace from this directory, so server.js lands at .next/standalone/server.js even inside a
  // bigger repository.
  outputFileTracingRoot: here,
  // No image optimisation, so the image needs no `sharp`.
  images: { unoptimized: true },
  // Keep the runtime image small: none of these is loaded by `node server.js` with this config
  // (sharp: image optimisation is off; typescript: the config is plain JS; amphtml-validator: AMP
  // validation only runs in development).
  outputFileTracingExcludes: {
    '*': [
      'node_modules/sharp/**',
      'node_modules/@img/**',
      'node_modules/typescript/**',
      'node_modules/next/dist/compiled/amphtml-validator/**',
    ],
  },
  poweredByHeader: false,
  reactStrictMode: true,
  // The pod's root filesystem is read-only (only /tmp and .next/cache are writable): keep the
  // incremental (ISR/404) cache in memory instead of writing under .next/server.
  experimental: { isrFlushToDisk: false },
  // ESLint is not a dependency of this app; `tsc` still type-checks during `next build`.
  eslint: { ignoreDuringBuilds: true },
  // There are deliberately no rewrites(): they are frozen into the build. The backend URL is read
  // per request by app/api/backend/[...path]/route.ts.
};

export default nextConfig;
