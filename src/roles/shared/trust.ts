/**
 * What a network installs to trust one manufacturer (report section 5.1.2): each CA for its
 * one purpose. The root authenticates the manufacturer's services (TLS to the MASA) and names
 * the manufacturer as a party; the others are the only anchors for what they issue.
 */
import type { Certificate } from '../../protocols/x509/certificate.js';

export interface ManufacturerTrust {
  root: Certificate;
  /** Issues birth certificates (IDevIDs). */
  idevidCa: Certificate;
  /** Issues the MASA's voucher-signing certificates. */
  masaCa: Certificate;
  /** Issues the declaration-signing certificates. */
  declarationsCa: Certificate;
}
