/**
 * The network-layer onboarding steps of NIST IR 8350 section 5.2 (Figure 9). Every step that
 * Airlock performs is recorded under its number, by the device in its journal and by the
 * registrar in the device's audit trail.
 */
export const OnboardingStep = {
  /** 1: secure boot produces an attestation token (later issue). */
  AttestationGenerated: 1,
  /** 2: the device is put in onboarding mode and contacts the onboarding component. */
  OnboardingMode: 2,
  /** 3, 4: attestation token sent and verified (later issue). */
  AttestationSent: 3,
  AttestationVerified: 4,
  /** 5: trusted introduction: the voucher exchange (RFC 8995 voucher request and voucher). */
  TrustedIntroduction: 5,
  /** 6: the device information declaration is sent to the device. */
  DeclarationDelivered: 6,
  /** 7: the network authenticates the device (channel-bound proof with the IDevID key). */
  DeviceAuthenticated: 7,
  /** 8: authorization policy is retrieved (later issue). */
  PolicyRetrieved: 8,
  /** 9: the device authenticates the network and checks that its owner may onboard it. */
  NetworkAuthenticated: 9,
  /** 10: the secure channel is established (the TLS connection is now trusted both ways). */
  SecureChannel: 10,
  /** 11-13: device intent (later issue). */
  IntentLocatorSent: 11,
  IntentForwarded: 12,
  IntentEnforced: 13,
  /** 14: application-layer bootstrapping information is exchanged. */
  AppBootstrap: 14,
  /** 15: onboarding credentials are provisioned (LDevID, per-device Wi-Fi PSK). */
  Provisioning: 15,
} as const;

export type OnboardingStepNumber = (typeof OnboardingStep)[keyof typeof OnboardingStep];

export const stepName: Record<OnboardingStepNumber, string> = {
  1: 'attestation token generated',
  2: 'onboarding mode',
  3: 'attestation token sent',
  4: 'attestation token verified',
  5: 'trusted introduction (voucher)',
  6: 'device information declaration delivered',
  7: 'device authenticated',
  8: 'authorization policy retrieved',
  9: 'network authenticated and authorized',
  10: 'secure channel established',
  11: 'intent locator sent',
  12: 'intent locator forwarded',
  13: 'intent enforced',
  14: 'application bootstrap exchanged',
  15: 'onboarding credentials provisioned',
};
