// Loaded only with the stripe processor, on a top-up that awaits confirmation: mounts Stripe's
// Payment Element and confirms the payment; Stripe returns the browser to the top-up page,
// which asks creditgate for the top-up's status (the webhook credits it either way).
(function () {
  var form = document.getElementById("stripe-confirm");
  if (!form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(form.dataset.key);
  var elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  elements.create("payment").mount("#payment-element");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    stripe.confirmPayment({ elements: elements,
      confirmParams: { return_url: new URL(form.dataset.return, window.location.href).href } });
  });
})();
