/** The model cache: where prepared models live and what their manifest says. */
export {
  loadManifest,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  type ModelManifest,
  type ModelManifestInput,
  parseManifest,
  readManifestIfPresent,
  writeManifest,
} from './manifest.js';
export { canopyHome, checkModelName, DEFAULT_MODEL, modelDir, TINY_MODEL } from './paths.js';
