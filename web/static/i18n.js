"use strict";
// The page scripts' side of the catalogs (library/i18n): gettext/ngettext with the same
// %(name)s placeholders as the server, and dates, numbers and durations in the page's
// language and the viewer's time zone. /i18n/<locale>.js, loaded just before, holds the
// translations as window.MEDROOM_I18N.
(function () {
  const data = window.MEDROOM_I18N || { locale: "en", tag: "en", plural: ["one", "other"], messages: {} };
  const root = document.documentElement;
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  // The account's zone when it has one, else this browser's own.
  const zone = root.hasAttribute("data-zone-chosen") && root.dataset.timeZone ? root.dataset.timeZone : browserZone;
  const tag = data.tag;
  const plurals = new Intl.PluralRules(tag);

  function interpolate(text, params) {
    return text.replace(/%\((\w+)\)[sdif]|%%/g, (match, name) => {
      if (match === "%%") return "%";
      return params && name in params ? String(params[name]) : match;
    });
  }

  function gettext(msgid, params) {
    const text = data.messages[msgid] || msgid;
    return params ? interpolate(text, params) : text;
  }

  function ngettext(singular, plural, num, params) {
    const forms = data.messages[singular + "\u0000" + plural];
    let text;
    if (forms) {
      let index = data.plural.indexOf(plurals.select(num));
      if (index < 0 || index >= forms.length) index = forms.length - 1;
      text = forms[index];
    } else {
      text = num === 1 ? singular : plural;
    }
    return interpolate(text, Object.assign({ num: formatNumber(num) }, params || {}));
  }

  function asDate(value) {
    return value instanceof Date ? value : new Date(typeof value === "number" && value < 1e11 ? value * 1000 : value);
  }

  function formatDateTime(value, options) {
    return new Intl.DateTimeFormat(tag, Object.assign({ dateStyle: "medium", timeStyle: "short", timeZone: zone }, options || {})).format(asDate(value));
  }
  function formatDate(value, options) {
    return new Intl.DateTimeFormat(tag, Object.assign({ dateStyle: "medium", timeZone: zone }, options || {})).format(asDate(value));
  }
  function formatTime(value, options) {
    return new Intl.DateTimeFormat(tag, Object.assign({ timeStyle: "short", timeZone: zone }, options || {})).format(asDate(value));
  }
  function formatNumber(value, options) {
    return new Intl.NumberFormat(tag, options || {}).format(value);
  }
  // "1 h 30 min" / "1 ч и 30 мин": hours and minutes (seconds under a minute), CLDR units.
  function formatDuration(seconds, style) {
    const display = style || "short";
    const whole = Math.max(0, Math.round(seconds));
    const unit = (n, name) => new Intl.NumberFormat(tag, { style: "unit", unit: name, unitDisplay: display }).format(n);
    if (whole < 60) return unit(whole, "second");
    const hours = Math.floor(whole / 3600);
    const minutes = Math.floor((whole % 3600) / 60);
    const parts = [];
    if (hours) parts.push(unit(hours, "hour"));
    if (minutes || !hours) parts.push(unit(minutes, "minute"));
    return new Intl.ListFormat(tag, { style: display === "long" ? "long" : "narrow", type: "unit" }).format(parts);
  }
  // A media position or a length as a clock: "1:02:03" / "4:05" (the same in every language).
  function formatClock(seconds) {
    const whole = Math.max(0, Math.floor(seconds));
    const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
  }

  window.gettext = gettext;
  window.ngettext = ngettext;
  window.i18n = { locale: data.locale, tag, zone, formatDateTime, formatDate, formatTime, formatNumber, formatDuration, formatClock };

  // The server renders times in the zone this cookie names (until the account sets one).
  if (browserZone && !document.cookie.split("; ").includes("medroom_tz=" + encodeURIComponent(browserZone))) {
    document.cookie = "medroom_tz=" + encodeURIComponent(browserZone) + "; path=/; max-age=31536000; samesite=lax";
  }
  document.addEventListener("change", (event) => {
    const select = event.target.closest && event.target.closest("select[data-autosubmit]");
    if (select) select.form.submit();
  });
})();
