// Types of @embedgate/embed (embed.js).

/** What `url` is asked for. */
export interface SignedUrlRequest {
  /**
   * `"open"`: the first session of this embed, sign
   * `https://<proxy>/.embedgate/open?origin=<origin>&path=<dashboard path>`.
   * `"renew"`: a renewal, sign the same with `/.embedgate/renew` (the proxy
   * then refuses it with `session_mismatch` if the browser's live session
   * is another user's).
   */
  kind: 'open' | 'renew';
  /**
   * This page's origin (`location.origin`), for the URL's `origin`
   * parameter. Your backend may use its own configured value instead.
   */
  origin: string;
}

/** What `onSessionRenewed` is told. */
export interface SessionRenewed {
  /** The renewed session's expiry, Unix seconds (the proxy's clock). */
  expiresAt: number;
}

/**
 * Why the embed stopped: a reason code of the proxy (`bad_signature`,
 * `replayed`, `out_of_scope`, `session_revoked`, `session_expired`,
 * `session_mismatch`, `no_session`, ... as in docs/proxy.md), or one of the
 * SDK's own: `sign_failed` (`url` threw or gave no URL, three times for the
 * first session, or until the session ended), `bad_url` (not a signed
 * `/.embedgate/open` or `renew` URL on the proxy's origin), `no_answer`
 * (the proxy's page never answered: most often an `origin` parameter that
 * is not this page's origin).
 */
export type EmbedErrorReason = string;

export interface EmbedOptions {
  /** The element the dashboard's iframe (and the hidden session frames) go into. */
  container: Element;
  /**
   * Returns a freshly signed `/.embedgate/open` or `/.embedgate/renew` URL,
   * e.g. `(req) => fetch('/embed-url?kind=' + req.kind).then(r => r.text())`.
   * Called for the first session and before each renewal; signed URLs are
   * single-use, so never return the same one twice.
   */
  url: (request: SignedUrlRequest) => string | Promise<string>;
  /** The dashboard's iframe finished loading its first document. */
  onReady?: () => void;
  /** The embed stopped renewing (see {@link EmbedErrorReason}); `reload()` starts over. */
  onError?: (reason: EmbedErrorReason) => void;
  /** A renewal went through; the dashboard was not reloaded. */
  onSessionRenewed?: (session: SessionRenewed) => void;
  /** The iframe's title (accessibility). Default `"Embedded dashboard"`. */
  title?: string;
  /** The iframe's `allow` attribute (e.g. `"fullscreen"`). */
  allow?: string;
  /** How long to wait for the proxy's answer page, ms. Default 15000. */
  answerTimeout?: number;
  /** The longest wait between two tries, ms. Default 30000. */
  maxRetryDelay?: number;
}

export interface Embed {
  /** The dashboard's iframe (style it as you like). */
  readonly iframe: HTMLIFrameElement;
  /** The current session's expiry, Unix seconds; `null` before the first. */
  readonly expiresAt: number | null;
  /** Opens a new session and loads the dashboard again. */
  reload(): void;
  /** Removes the frames and stops renewing. */
  destroy(): void;
}

/** Shows the dashboard in `options.container` and keeps its session renewed. */
export function createEmbed(options: EmbedOptions): Embed;
