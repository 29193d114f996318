import { describe, expect, it } from "vitest";
import serverCodes from "../api/problemCodes.json";
import { PROBLEM_CODES, PROBLEM_MESSAGES, problemMessage } from "./problems";

// problemCodes.json is the server's list (geo/errors.py CODES; tests/test_error_codes.py fails
// when they differ), so a code added on the server without a French message fails here.
describe("problem messages", () => {
  it("has a French message for every code the server declares, and none for unknown codes", () => {
    expect(serverCodes.length).toBeGreaterThan(20);
    expect(Object.keys(PROBLEM_MESSAGES).sort()).toEqual([...serverCodes].sort());
    expect(PROBLEM_CODES).toEqual(serverCodes);
  });

  it("every message is French text, whatever the extensions", () => {
    for (const code of serverCodes) {
      const text = problemMessage(400, { code, detail: "English detail must not show" });
      expect(text, code).not.toMatch(/English|undefined|null|\[object/);
      expect(text.length, code).toBeGreaterThan(10);
    }
  });

  it("names statuses and roles by their labels", () => {
    expect(
      problemMessage(403, { code: "transition.role_refused", role: "OPS", current_status: "IN_REVIEW", target_status: "CLIENT_READY" }),
    ).toBe("Le rôle Opérations ne peut pas faire passer un lead de « En revue » à « Prêt client ».");
    expect(problemMessage(422, { code: "transition.reason_required", target_status: "REJECTED" })).toBe(
      "Un motif est obligatoire pour passer un lead à « Rejeté ».",
    );
  });

  it("says why a session ended, one message per cause", () => {
    const causes = ["auth.session_expired", "auth.session_revoked", "auth.password_changed", "auth.account_disabled"];
    const texts = causes.map((code) => problemMessage(401, { code }));
    expect(new Set(texts).size).toBe(causes.length);
    expect(texts[0]).toMatch(/expiré/);
    expect(texts[1]).toMatch(/fermée/);
    expect(texts[2]).toMatch(/mot de passe a été changé/);
  });

  it("says a deactivated account is deactivated", () => {
    expect(problemMessage(401, { code: "auth.account_disabled" })).toMatch(/désactivé/);
    expect(problemMessage(401, { code: "auth.bad_credentials" })).toBe("Adresse e-mail ou mot de passe incorrect.");
  });

  it("names invalid fields in French and formats limits", () => {
    const body = { code: "request.invalid", errors: [{ field: "body.email", type: "value_error", message: "x" }] };
    expect(problemMessage(422, body)).toBe("Valeur invalide : adresse e-mail.");
    expect(problemMessage(422, { code: "request.invalid", field: "file" })).toBe("Valeur invalide : fichier.");
    expect(problemMessage(413, { code: "upload.too_large", limit: 10 * 1024 * 1024 })).toBe(
      "Fichier trop volumineux : la limite est de 10 Mo.",
    );
  });

  it("falls back on the status in French, never the English detail", () => {
    expect(problemMessage(409, { detail: "a user with email x already exists" })).toBe(
      "L'opération est impossible dans l'état actuel de l'élément.",
    );
    expect(problemMessage(418, { detail: "teapot" })).toBe("La requête a échoué (erreur 418).");
  });
});
