/* The driver portal's work pages (/driver/work/).
 *
 * Every action is a plain form post to the portal, which calls the same services as the driver
 * API; this script only adds what a phone needs: the position (GPS, or in development a point
 * picked on the map), a location ping every 15 s while online, offers that appear without a
 * reload (it polls the API and swaps in the server-rendered cards when the list changes),
 * countdowns, busy buttons, and errors shown in the page, never a silent failure.
 */
(function () {
  "use strict";

  var root = document.getElementById("work");
  if (!root) return;
  var ds = root.dataset;
  var DEV = ds.dev === "1";
  var DEV_KEY = "spark.devPosition";
  var PING_MS = 15000;
  var OFFERS_MS = 4000;
  var TRIP_MS = 15000;
  var ACTIVE_TRIP = ["assigned", "at_store", "in_progress"].indexOf(ds.tripStatus) >= 0;
  var alertBox = document.getElementById("work-alert");

  // --- errors in the page -------------------------------------------------------------------

  function showError(message, source) {
    alertBox.textContent = message;
    alertBox.dataset.source = source || "";
    alertBox.hidden = false;
  }

  function clearError(source) {
    if (!alertBox.hidden && alertBox.dataset.source === source) {
      alertBox.hidden = true;
      alertBox.textContent = "";
    }
  }

  function errorText(response, body) {
    if (body && body.error && body.error.message) return body.error.message;
    if (body && body.detail) return body.detail;
    if (response.status === 401 || response.status === 403) {
      return "Your session has ended. Log in again.";
    }
    if (response.status === 429) return "Too many requests. Wait a moment.";
    return "Something went wrong (HTTP " + response.status + "). Try again.";
  }

  /* The driver JSON API (session auth, so the CSRF token goes with every write). */
  function api(method, url, body, authorization) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": ds.csrf },
    };
    if (authorization) options.headers.Authorization = authorization;
    if (body) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(
      function (response) {
        if (response.status === 204) return null;
        return response
          .json()
          .catch(function () { return null; })
          .then(function (data) {
            if (response.ok) return data;
            var error = new Error(errorText(response, data));
            error.status = response.status;
            throw error;
          });
      },
      function () {
        throw new Error("No connection. Check your signal; we keep trying.");
      }
    );
  }

  // --- position -----------------------------------------------------------------------------

  function parsePosition(text) {
    if (!text) return null;
    var parts = text.split(",");
    return { lat: parseFloat(parts[0]), lng: parseFloat(parts[1]) };
  }

  function savedDev() {
    try {
      return JSON.parse(window.localStorage.getItem(DEV_KEY) || "null");
    } catch (e) {
      return null;
    }
  }

  function saveDev(value) {
    try {
      window.localStorage.setItem(DEV_KEY, JSON.stringify(value));
    } catch (e) { /* private mode: the pick lasts for this page only */ }
  }

  /* In development the picked point (else the last known one) stands in for the GPS. */
  function devPosition() {
    if (!DEV) return null;
    var saved = savedDev();
    if (saved && saved.useGps) return null;
    if (saved && typeof saved.lat === "number") return saved;
    return parsePosition(ds.position);
  }

  function geoMessage(error) {
    if (error.code === 1) {
      return "Location access is blocked. Allow it for this site in your browser settings, then try again.";
    }
    if (error.code === 3) return "Finding your location took too long. Try again.";
    return "Your location is not available right now. Try again.";
  }

  function locate() {
    return new Promise(function (resolve, reject) {
      var dev = devPosition();
      if (dev) return resolve(dev);
      if (!navigator.geolocation) {
        return reject(new Error("This browser cannot share its location."));
      }
      navigator.geolocation.getCurrentPosition(
        function (p) { resolve({ lat: p.coords.latitude, lng: p.coords.longitude }); },
        function (error) { reject(new Error(geoMessage(error))); },
        { enableHighAccuracy: true, timeout: 10000, maximumAge: 10000 }
      );
    });
  }

  // --- maps (the same projection as dispatch.views.present.SvgMap) --------------------------

  function num(svg, name) { return parseFloat(svg.dataset[name]); }

  function project(svg, lat, lng) {
    return [
      num(svg, "w") / 2 + (lng - num(svg, "lng0")) * num(svg, "cos0") * num(svg, "k"),
      num(svg, "h") / 2 - (lat - num(svg, "lat0")) * num(svg, "k"),
    ];
  }

  function unproject(svg, x, y) {
    return {
      lat: num(svg, "lat0") - (y - num(svg, "h") / 2) / num(svg, "k"),
      lng: num(svg, "lng0") + (x - num(svg, "w") / 2) / (num(svg, "cos0") * num(svg, "k")),
    };
  }

  function showPosition(pos) {
    document.querySelectorAll("svg[data-map]").forEach(function (svg) {
      var dot = svg.querySelector("[data-driver]");
      if (!dot) return;
      var xy = project(svg, pos.lat, pos.lng);
      var inside = xy[0] >= 0 && xy[1] >= 0 && xy[0] <= num(svg, "w") && xy[1] <= num(svg, "h");
      dot.setAttribute("transform", "translate(" + xy[0].toFixed(1) + "," + xy[1].toFixed(1) + ")");
      dot.style.display = inside ? "" : "none";
    });
    var text = document.querySelector("[data-position-text]");
    if (text) text.textContent = "At " + pos.lat.toFixed(5) + ", " + pos.lng.toFixed(5);
    var form = document.getElementById("online-form");
    if (form && DEV) fill(form, pos);
  }

  function fill(form, pos) {
    var lat = form.querySelector("input[name=lat]");
    var lng = form.querySelector("input[name=lng]");
    if (lat && lng) {
      lat.value = pos.lat.toFixed(6);
      lng.value = pos.lng.toFixed(6);
    }
  }

  function hasPosition(form) {
    var lat = form.querySelector("input[name=lat]");
    return Boolean(lat && lat.value);
  }

  // --- location pings while online ----------------------------------------------------------

  var driverToken = ds.driverToken;

  /* With the driver token the server does no database work; an expired token falls back to
     the session (the next page load brings a fresh token). */
  function sendPing(pos) {
    if (!driverToken) return api("POST", ds.pingUrl, pos);
    return api("POST", ds.pingUrl, pos, "Driver " + driverToken).catch(function (error) {
      if (error.status !== 401 && error.status !== 403) throw error;
      driverToken = "";
      return api("POST", ds.pingUrl, pos);
    });
  }

  function ping() {
    return locate()
      .then(function (pos) {
        showPosition(pos);
        return sendPing(pos);
      })
      .then(
        function () { clearError("ping"); },
        function (error) { showError("Location update failed: " + error.message, "ping"); }
      );
  }

  var pinging = ds.online === "1" || ACTIVE_TRIP;
  if (pinging) {
    ping();
    window.setInterval(ping, PING_MS);
  } else {
    var start = devPosition();
    if (start) showPosition(start);
  }

  if (DEV) {
    document.querySelectorAll("svg.map.pickable").forEach(function (svg) {
      svg.addEventListener("click", function (event) {
        var point = svg.createSVGPoint();
        point.x = event.clientX;
        point.y = event.clientY;
        var local = point.matrixTransform(svg.getScreenCTM().inverse());
        var pos = unproject(svg, local.x, local.y);
        saveDev({ lat: pos.lat, lng: pos.lng });
        showPosition(pos);
        if (pinging) ping();
      });
    });
    var gps = document.querySelector("[data-use-gps]");
    if (gps) {
      gps.addEventListener("click", function () {
        saveDev({ useGps: true });
        locate().then(
          function (pos) {
            showPosition(pos);
            if (pinging) ping();
          },
          function (error) { showError(error.message, "locate"); }
        );
      });
    }
  }

  // --- forms: the position, busy buttons, no double posts -----------------------------------

  function busy(form, on) {
    form.classList.toggle("htmx-request", on);
    form.querySelectorAll("button").forEach(function (b) { b.disabled = on; });
    if (on) form.dataset.submitting = "1";
    else delete form.dataset.submitting;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.submitting) {
      event.preventDefault();
      return;
    }
    if (!form.hasAttribute("data-needs-location")) {
      busy(form, true);
      return;
    }
    event.preventDefault();
    busy(form, true);
    var strict = form.dataset.needsLocation === "strict";
    if (DEV && strict && hasPosition(form)) {
      form.submit(); // typed or picked on the map
      return;
    }
    var there = DEV && devPosition() && parsePosition(form.dataset.at);
    if (there) {
      // Development: doing a step "drives" to where it happens (the store, the door).
      saveDev(there);
      fill(form, there);
      form.submit();
      return;
    }
    locate().then(
      function (pos) {
        fill(form, pos);
        form.submit();
      },
      function (error) {
        if (strict) {
          busy(form, false);
          showError(error.message, "locate");
          return;
        }
        // The step still counts: the server records the last position it knows.
        showError(error.message + " Your last known position was used.", "locate");
        form.submit();
      }
    );
  });

  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitting]").forEach(function (f) { busy(f, false); });
  });

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.type !== "file" || !input.files || !input.files[0]) return;
    var preview = input.form && input.form.querySelector("[data-photo-preview]");
    if (preview) {
      preview.src = URL.createObjectURL(input.files[0]);
      preview.hidden = false;
    }
  });

  // --- offer countdowns ---------------------------------------------------------------------

  function tick() {
    document.querySelectorAll("[data-expires-at]").forEach(function (el) {
      if (!el.deadline) el.deadline = Date.now() + parseInt(el.dataset.secondsLeft, 10) * 1000;
      var left = Math.max(0, Math.round((el.deadline - Date.now()) / 1000));
      var card = el.closest("[data-offer]");
      var label = el.querySelector("[data-countdown]");
      label.textContent = left > 0 ? Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0") : "Expired";
      el.classList.toggle("urgent", left > 0 && left <= 10);
      if (left === 0 && card && !card.classList.contains("expired")) {
        card.classList.add("expired");
        card.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      }
    });
  }
  tick();
  window.setInterval(tick, 1000);

  // --- offers appear without a reload -------------------------------------------------------

  var offersBox = document.getElementById("offers");
  var onTrip = Boolean(document.querySelector(".trip-banner"));

  function pollOffers() {
    api("GET", ds.offersApi)
      .then(function (offers) {
        clearError("offers");
        var ids = offers.map(function (o) { return o.id; }).sort().join(",");
        if (ids === offersBox.dataset.ids) return null;
        return fetch(ds.offersUrl, { credentials: "same-origin" }).then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.text().then(function (html) {
            var isNew = ids && ids.split(",").some(function (id) {
              return offersBox.dataset.ids.indexOf(id) < 0;
            });
            offersBox.innerHTML = html;
            offersBox.dataset.ids = ids;
            tick();
            if (isNew && navigator.vibrate) navigator.vibrate([150, 80, 150]);
          });
        });
      })
      .catch(function (error) { showError("Could not check for offers: " + error.message, "offers"); });
  }

  if (offersBox && ds.offersApi && ds.online === "1" && !onTrip) {
    window.setInterval(pollOffers, OFFERS_MS);
  }

  // --- the trip: changes made by others (store staff, operations) ---------------------------

  if (ds.tripApi && ACTIVE_TRIP) {
    window.setInterval(function () {
      api("GET", ds.tripApi).then(
        function (trip) {
          clearError("trip");
          if (trip.status !== ds.tripStatus) window.location.assign(ds.tripUrl);
        },
        function (error) {
          if (error.status === 404) {
            showError("This trip is no longer assigned to you (operations moved it). Go back to Work.", "trip");
          } else {
            showError("Could not refresh the trip: " + error.message, "trip");
          }
        }
      );
    }, TRIP_MS);
  }
})();
